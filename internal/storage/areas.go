package storage

import (
	"context"
	"slices"
)

// Area is one of the storage primitives a server may serve. The names are
// those of --toolsets.
type Area string

const (
	AreaKV Area = "kv"
	AreaR2 Area = "r2"
	AreaD1 Area = "d1"
)

// Areas lists every area.
var Areas = []Area{AreaKV, AreaR2, AreaD1}

// Title is the area's name in messages: "Workers KV", "R2", "D1".
func (a Area) Title() string {
	switch a {
	case AreaKV:
		return "Workers KV"
	case AreaR2:
		return "R2"
	case AreaD1:
		return "D1"
	}
	return string(a)
}

// Unnamed returns the areas that names (the --toolsets) leaves out: none
// when names is empty, since no --toolsets means everything.
func Unnamed(names []string) []Area {
	if len(names) == 0 {
		return nil
	}
	var off []Area
	for _, a := range Areas {
		if !slices.Contains(names, string(a)) {
			off = append(off, a)
		}
	}
	return off
}

// Unsupported is a KV, R2 and D1 whose every method fails with
// ErrUnsupported and Reason, before any I/O: what a Store gives for an
// area its Policy turns off, and what a backend without an area offers.
type Unsupported struct{ Reason string }

var (
	_ KV = Unsupported{}
	_ R2 = Unsupported{}
	_ D1 = Unsupported{}
)

func (u Unsupported) err() error { return Errorf(CodeUnsupported, "%s", u.Reason) }

func (u Unsupported) ListNamespaces(context.Context, ListOptions) (NamespacePage, error) {
	return NamespacePage{}, u.err()
}
func (u Unsupported) GetNamespace(context.Context, string) (Namespace, error) {
	return Namespace{}, u.err()
}
func (u Unsupported) CreateNamespace(context.Context, string) (Namespace, error) {
	return Namespace{}, u.err()
}
func (u Unsupported) RenameNamespace(context.Context, string, string) error { return u.err() }
func (u Unsupported) DeleteNamespace(context.Context, string) error         { return u.err() }
func (u Unsupported) Get(context.Context, string, string) (*KVValue, error) { return nil, u.err() }
func (u Unsupported) Put(context.Context, string, KVPut) error              { return u.err() }
func (u Unsupported) Delete(context.Context, string, string) error          { return u.err() }
func (u Unsupported) List(context.Context, string, ListOptions) (KeyPage, error) {
	return KeyPage{}, u.err()
}
func (u Unsupported) BulkPut(context.Context, string, []KVEntry) (BulkPutResult, error) {
	return BulkPutResult{}, u.err()
}
func (u Unsupported) BulkGet(context.Context, string, []string, BulkGetOptions) ([]KVItem, error) {
	return nil, u.err()
}
func (u Unsupported) BulkDelete(context.Context, string, []string) (int, error) { return 0, u.err() }

func (u Unsupported) ListBuckets(context.Context, ListOptions) (BucketPage, error) {
	return BucketPage{}, u.err()
}
func (u Unsupported) GetBucket(context.Context, string) (Bucket, error) { return Bucket{}, u.err() }
func (u Unsupported) CreateBucket(context.Context, BucketSpec) (Bucket, error) {
	return Bucket{}, u.err()
}
func (u Unsupported) DeleteBucket(context.Context, string) error { return u.err() }
func (u Unsupported) ListObjects(context.Context, string, ObjectListOptions) (ObjectPage, error) {
	return ObjectPage{}, u.err()
}
func (u Unsupported) HeadObject(context.Context, string, string) (ObjectInfo, error) {
	return ObjectInfo{}, u.err()
}
func (u Unsupported) GetObject(context.Context, string, string, *ByteRange) (*Object, error) {
	return nil, u.err()
}
func (u Unsupported) PutObject(context.Context, ObjectPut) (ObjectInfo, error) {
	return ObjectInfo{}, u.err()
}
func (u Unsupported) CopyObject(context.Context, ObjectRef, ObjectRef) (ObjectInfo, error) {
	return ObjectInfo{}, u.err()
}
func (u Unsupported) DeleteObjects(context.Context, string, []string) (DeleteResult, error) {
	return DeleteResult{}, u.err()
}
func (u Unsupported) Presign(context.Context, PresignRequest) (PresignedURL, error) {
	return PresignedURL{}, u.err()
}

func (u Unsupported) ListDatabases(context.Context, ListOptions) (DatabasePage, error) {
	return DatabasePage{}, u.err()
}
func (u Unsupported) CreateDatabase(context.Context, DatabaseSpec) (Database, error) {
	return Database{}, u.err()
}
func (u Unsupported) GetDatabase(context.Context, string) (Database, error) {
	return Database{}, u.err()
}
func (u Unsupported) DeleteDatabase(context.Context, string) error { return u.err() }
func (u Unsupported) Query(context.Context, string, []Statement, QueryOptions) ([]QueryResult, error) {
	return nil, u.err()
}
