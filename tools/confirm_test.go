package tools

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// TestDeletionMessage: the form names exactly what goes, quotes keys so that
// a key cannot forge lines of the form, and counts what it does not name.
func TestDeletionMessage(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("k%02d", i)
	}
	for _, tc := range []struct {
		name   string
		d      Deletion
		want   []string
		unwant []string
	}{
		{"bucket", Deletion{What: "R2 bucket", Name: "photos", Detail: "It is empty."},
			[]string{`Delete R2 bucket "photos" for good?`, "It is empty.", "cannot be undone"}, nil},
		{"keys", Deletion{What: "keys", In: "KV namespace", Name: "sessions", Items: many},
			[]string{`Delete 25 keys from KV namespace "sessions"`, `- "k00"`, `- "k09"`, "and 15 more"}, []string{`"k10"`}},
		{"a key that looks like a line", Deletion{What: "objects", In: "R2 bucket", Name: "b", Items: []string{"a\n- and 0 more", "b"}},
			[]string{`- "a\n- and 0 more"`}, []string{"\n- and 0 more\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.d.Message()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, u := range tc.unwant {
				if strings.Contains(msg, u) {
					t.Errorf("message %q has %q", msg, u)
				}
			}
		})
	}
}

type fixedConfirmer struct {
	dec Decision
	err error
}

func (f fixedConfirmer) Confirm(context.Context, Deletion) (Decision, error) { return f.dec, f.err }

// TestConfirmed: only an accept or, unasked, a matching confirm lets a
// delete through; a decline wins over a matching confirm.
func TestConfirmed(t *testing.T) {
	d := Deletion{What: "R2 bucket", Name: "photos", NameIs: "name"}
	right, wrong := "photos", "other"
	for _, tc := range []struct {
		name    string
		c       Confirmer
		confirm *string
		code    storage.Code // "" = may delete
	}{
		{"accepted, no confirm", fixedConfirmer{dec: Accepted}, nil, ""},
		{"accepted, wrong confirm", fixedConfirmer{dec: Accepted}, &wrong, ""},
		{"declined, right confirm", fixedConfirmer{dec: Declined}, &right, storage.CodePermissionDenied},
		{"unasked, right confirm", fixedConfirmer{}, &right, ""},
		{"unasked, wrong confirm", fixedConfirmer{}, &wrong, storage.CodeInvalidArgument},
		{"unasked, no confirm argument", fixedConfirmer{}, nil, ""},
		{"asking failed", fixedConfirmer{err: storage.Errorf(storage.CodeUnavailable, "no")}, &right, storage.CodeUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := confirmed(context.Background(), tc.c, d, tc.confirm)
			if tc.code == "" && err != nil || tc.code != "" && storage.CodeOf(err) != tc.code {
				t.Errorf("confirmed = %v, want code %q", err, tc.code)
			}
		})
	}
}
