package tools

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Deletion is an irreversible delete, described for the person who confirms
// it: a bucket, a namespace, a database, or many objects or keys at once.
type Deletion struct {
	Tool string // the tool that deletes
	// What goes: "R2 bucket", "KV namespace", "D1 database"; with Items, what
	// they are ("objects", "keys") and In what they are in ("R2 bucket").
	What string
	In   string
	Name string // the name or title of the bucket, namespace or database
	// NameIs says what Name is ("name", "title"), for `confirm`'s message.
	NameIs string
	// Items names what goes inside Name (keys, objects); the form shows the
	// first few and counts the rest, but all of them identify the deletion.
	Items []string
	// Detail says how much goes, when it is known cheaply ("at least 1000
	// keys", "3 tables, 12.0 KiB").
	Detail string
}

// shownItems is how many of a deletion's items the form names.
const shownItems = 10

// Message is what the user reads: exactly what goes, and that it is for good.
func (d Deletion) Message() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Delete %s for good?", d.subject())
	if len(d.Items) > 0 {
		for _, it := range d.Items[:min(len(d.Items), shownItems)] {
			b.WriteString("\n- " + strconv.Quote(it)) // quoted: a key cannot forge lines of the form
		}
		if n := len(d.Items) - shownItems; n > 0 {
			fmt.Fprintf(&b, "\n- and %d more", n)
		}
	}
	if d.Detail != "" {
		b.WriteString("\n" + d.Detail)
	}
	b.WriteString("\nThis cannot be undone.")
	return b.String()
}

// subject names what goes: `R2 bucket "x"`, `12 objects from R2 bucket "x"`.
func (d Deletion) subject() string {
	if len(d.Items) > 0 {
		return fmt.Sprintf("%d %s from %s %q", len(d.Items), d.What, d.In, d.Name)
	}
	return fmt.Sprintf("%s %q", d.What, d.Name)
}

// Decision is how a deletion was confirmed.
type Decision int

const (
	// Unasked: the client cannot ask its user (no elicitation); the tool
	// falls back to its `confirm` argument, or proceeds where it has none.
	Unasked Decision = iota
	// Accepted: the user said yes.
	Accepted
	// Declined: the user said no, or dismissed the question.
	Declined
)

// Confirmer asks the person behind the client to confirm a deletion. It is
// implemented where the MCP session is (internal/mcpserver); tools call it
// and know nothing of how it asks. An error means nothing may be deleted.
type Confirmer interface {
	Confirm(ctx context.Context, d Deletion) (Decision, error)
}

// unasked is the Confirmer of a server that never asks: `confirm` decides.
type unasked struct{}

func (unasked) Confirm(context.Context, Deletion) (Decision, error) { return Unasked, nil }

// confirmed asks the user about d and returns nil only when the deletion may
// go ahead. Without elicitation, confirm must equal d.Name when named (a
// tool with a `confirm` argument), else the deletion proceeds as it always
// did. A user's no is final: the model must not get around it with confirm.
func confirmed(ctx context.Context, c Confirmer, d Deletion, confirm *string) error {
	dec, err := c.Confirm(ctx, d)
	if err != nil {
		return err
	}
	switch dec {
	case Accepted:
		return nil
	case Declined:
		return storage.Errorf(storage.CodePermissionDenied,
			"the user declined to delete %s; nothing was deleted. Do not retry, and do not pass confirm: ask the user what they want instead", d.subject())
	}
	if confirm != nil && *confirm != d.Name {
		return storage.Errorf(storage.CodeInvalidArgument,
			"confirm: must equal the %s %s %q to delete it; nothing was deleted", d.What, d.NameIs, d.Name)
	}
	return nil
}

// distinct returns keys without repeats, in their first order.
func distinct(keys []string) []string {
	out := make([]string, 0, len(keys))
	seen := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, k)
		}
	}
	return slices.Clip(out)
}

// manyKeys is the threshold of a delete of keys or objects that the user
// confirms: more than one.
const manyKeys = 1
