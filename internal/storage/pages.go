package storage

import (
	"context"
	"iter"
)

// PageSize is the page a backend asks for when a listing asks for limit
// items: def when limit is not set, and at most max, what Guard would
// refuse, so that an unguarded call cannot ask for an unbounded page. Every
// backend's listings size their pages with it.
func PageSize(limit, def, max int) int {
	switch {
	case limit <= 0:
		return def
	case limit > max:
		return max
	}
	return limit
}

// pages yields every item of a paged listing, asking for the next page only
// when the caller's loop gets there; breaking out of the loop stops paging.
// An error ends the sequence, yielded with a zero item.
func pages[T any](next func(cursor string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		cursor := ""
		for {
			items, c, err := next(cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if c == "" {
				return
			}
			cursor = c
		}
	}
}

// AllNamespaces yields every namespace kv lists under opts (its Cursor is
// ignored), in the backend's order.
func AllNamespaces(ctx context.Context, kv KV, opts ListOptions) iter.Seq2[Namespace, error] {
	if opts.Limit == 0 {
		opts.Limit = MaxNamespaceList
	}
	return pages(func(cursor string) ([]Namespace, string, error) {
		opts.Cursor = cursor
		p, err := kv.ListNamespaces(ctx, opts)
		return p.Namespaces, p.Cursor, err
	})
}

// AllBuckets yields every bucket r2 lists under opts (its Cursor is ignored).
func AllBuckets(ctx context.Context, r2 R2, opts ListOptions) iter.Seq2[Bucket, error] {
	if opts.Limit == 0 {
		opts.Limit = MaxBucketList
	}
	return pages(func(cursor string) ([]Bucket, string, error) {
		opts.Cursor = cursor
		p, err := r2.ListBuckets(ctx, opts)
		return p.Buckets, p.Cursor, err
	})
}

// AllDatabases yields every database d1 lists under opts (its Cursor is
// ignored).
func AllDatabases(ctx context.Context, d1 D1, opts ListOptions) iter.Seq2[Database, error] {
	if opts.Limit == 0 {
		opts.Limit = MaxDatabaseList
	}
	return pages(func(cursor string) ([]Database, string, error) {
		opts.Cursor = cursor
		p, err := d1.ListDatabases(ctx, opts)
		return p.Databases, p.Cursor, err
	})
}
