package storage

import "context"

// FixedResources is implemented by a backend whose namespaces, buckets and
// databases are given to it rather than made by it (a Worker project's
// bindings under wrangler dev): RefuseDelete says why the one that ref
// names cannot be deleted there, and what to do instead.
type FixedResources interface {
	RefuseDelete(area Area, ref string) error
}

// CanDelete says, before anyone is asked to confirm it, why the namespace,
// bucket or database ref of area could not be deleted here, or nil when a
// delete may go ahead. A person must not be asked about a deletion that
// would be refused anyway.
func (s *Store) CanDelete(_ context.Context, a Area, ref string) error {
	if f, ok := s.inner.(FixedResources); ok {
		return f.RefuseDelete(a, ref)
	}
	return nil
}
