package resources

import (
	"context"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// MaxCompletions is the most values one completion answer carries (the MCP
// limit); hasMore says when there are more.
const MaxCompletions = 100

// The arguments Completer knows how to complete.
const (
	ArgBucket    = "bucket"
	ArgNamespace = "namespace"
	ArgKey       = "key"
	ArgDatabase  = "database"
	ArgTable     = "table"
)

// Completer answers completion/complete for the template arguments, through
// the guarded Store: nothing outside the allow-lists is ever suggested.
type Completer struct {
	store *storage.Store
}

// Completer returns the completion provider of these resources.
func (r *Resources) Completer() *Completer { return &Completer{store: r.store} }

// CompleteResourceArgument implements server.ResourceCompletionProvider.
func (c *Completer) CompleteResourceArgument(ctx context.Context, uri string, arg mcp.CompleteArgument, cc mcp.CompleteContext) (*mcp.Completion, error) {
	var scheme string
	switch uri {
	case TemplateR2:
		scheme = schemeR2
	case TemplateKV:
		scheme = schemeKV
	case TemplateD1:
		if arg.Name == ArgTable {
			return c.tables(ctx, cc.Arguments[ArgDatabase], arg.Value)
		}
		return c.Complete(ctx, arg.Name, arg.Value)
	default:
		return &mcp.Completion{Values: []string{}}, nil
	}
	if arg.Name == ArgKey {
		if scheme == schemeR2 {
			return c.objectKeys(ctx, cc.Arguments[ArgBucket], arg.Value)
		}
		return c.kvKeys(ctx, cc.Arguments[ArgNamespace], arg.Value)
	}
	return c.Complete(ctx, arg.Name, arg.Value)
}

// Complete completes a bucket name, a namespace (title or id) or a D1
// database (name or id) from the prefix value; other arguments get no suggestions. Prompts use it for their
// arguments of the same names.
func (c *Completer) Complete(ctx context.Context, argument, value string) (*mcp.Completion, error) {
	switch argument {
	case ArgBucket:
		return c.buckets(ctx, value)
	case ArgNamespace:
		return c.namespaces(ctx, value)
	case ArgDatabase:
		return c.databases(ctx, value)
	}
	return &mcp.Completion{Values: []string{}}, nil
}

// completion caps values at MaxCompletions; more is whether the source has
// further values beyond those given.
func completion(values []string, more bool) *mcp.Completion {
	out := &mcp.Completion{Values: values, HasMore: more || len(values) > MaxCompletions}
	if out.HasMore {
		out.Values = values[:min(len(values), MaxCompletions)]
	} else {
		out.Total = len(values)
	}
	if out.Values == nil {
		out.Values = []string{}
	}
	return out
}

// quiet turns the errors of a half-typed argument (a bucket that does not
// exist, a malformed name) and of a backend without the service (no D1) into
// "no suggestions": completion is a hint, not a check. Other errors (the
// backend is down) are reported.
func quiet(err error) (*mcp.Completion, error) {
	switch storage.CodeOf(err) {
	case storage.CodeNotFound, storage.CodeInvalidArgument, storage.CodeUnsupported:
		return completion(nil, false), nil
	}
	return nil, err
}

func (c *Completer) buckets(ctx context.Context, prefix string) (*mcp.Completion, error) {
	var names []string
	opts := storage.ListOptions{Prefix: prefix, Limit: storage.MaxBucketList}
	for {
		page, err := c.store.R2().ListBuckets(ctx, opts)
		if err != nil {
			return quiet(err)
		}
		for _, b := range page.Buckets {
			names = append(names, b.Name)
		}
		if page.Cursor == "" || len(names) > MaxCompletions {
			return completion(names, page.Cursor != ""), nil
		}
		opts.Cursor = page.Cursor
	}
}

// namespaces matches the prefix against titles (case-insensitively) and ids.
// A title is suggested as itself, an id only when the prefix matches the id
// and not the title.
func (c *Completer) namespaces(ctx context.Context, prefix string) (*mcp.Completion, error) {
	lower := strings.ToLower(prefix)
	var values []string
	for ns, err := range storage.AllNamespaces(ctx, c.store.KV(), storage.ListOptions{}) {
		if err != nil {
			return quiet(err)
		}
		switch {
		case strings.HasPrefix(strings.ToLower(ns.Title), lower) && !storage.IsNamespaceID(ns.Title):
			values = append(values, ns.Title)
		case prefix != "" && strings.HasPrefix(strings.ToLower(ns.ID), lower):
			values = append(values, ns.ID)
		}
	}
	slices.Sort(values)
	return completion(slices.Compact(values), false), nil
}

// prefixOf decodes a half-typed key as written in a URI; text that is not
// valid percent-encoding (a lone %) is taken as it is.
func prefixOf(value string) string {
	if k, err := UnescapeKey(value); err == nil {
		return k
	}
	return value
}

// objectKeys suggests the objects and sub-folders one level below the typed
// prefix, like a shell completing a path. Values are in URI form (EscapeKey),
// ready to be put into r2://{bucket}/{+key}.
func (c *Completer) objectKeys(ctx context.Context, bucket, value string) (*mcp.Completion, error) {
	if bucket == "" {
		return completion(nil, false), nil
	}
	page, err := c.store.R2().ListObjects(ctx, bucket, storage.ObjectListOptions{
		Prefix: prefixOf(value), Delimiter: "/", Limit: MaxCompletions + 1})
	if err != nil {
		return quiet(err)
	}
	keys := slices.Clone(page.Prefixes)
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = EscapeKey(k)
	}
	return completion(keys, page.Cursor != ""), nil
}

// kvKeys suggests the keys starting with the typed prefix (KV has no
// folders: the listing is flat). Values are in URI form, as for objects.
func (c *Completer) kvKeys(ctx context.Context, namespace, value string) (*mcp.Completion, error) {
	if namespace == "" {
		return completion(nil, false), nil
	}
	ns, err := c.store.Namespace(ctx, namespace)
	if err != nil {
		return quiet(err)
	}
	page, err := c.store.KV().List(ctx, ns.ID, storage.ListOptions{Prefix: prefixOf(value), Limit: MaxCompletions + 1})
	if err != nil {
		return quiet(err)
	}
	keys := make([]string, 0, len(page.Keys))
	for _, k := range page.Keys {
		keys = append(keys, EscapeKey(k.Name))
	}
	return completion(keys, page.Cursor != ""), nil
}
