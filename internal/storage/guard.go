package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Policy confines what the MCP layers may reach through a Store.
type Policy struct {
	// ReadOnly refuses every write with ErrReadOnly.
	ReadOnly bool
	// Namespaces and Buckets, when not empty, are the only ones reachable
	// (namespaces by id or title). Anything else is reported as not found.
	Namespaces []string
	Buckets    []string
	// Databases, when not empty, are the only D1 databases reachable (by
	// id or name).
	Databases []string
	// Off are the areas the server does not serve (--toolsets without
	// them): every call to them fails with ErrUnsupported before any I/O,
	// so that a token without, say, R2 permissions is never used for R2.
	Off []Area
	// Now is the clock for expiration checks; nil means time.Now.
	Now func() time.Time
}

// resolveTTL is how long a namespace title stays resolved: long enough to
// save a listing per tool call, short enough to see renames made elsewhere.
const resolveTTL = 30 * time.Second

// Store is a Backend guarded by a Policy: every call is validated against
// Cloudflare's limits before any I/O, writes are refused when read-only, and
// the allow-lists hide everything outside them. It is what tools, resources
// and prompts are given.
type Store struct {
	inner   Backend
	policy  Policy
	kv      *guardedKV
	r2      *guardedR2
	d1      *guardedD1
	changes *observers
}

// Guard wraps b with p.
func Guard(b Backend, p Policy) *Store {
	if p.Now == nil {
		p.Now = time.Now
	}
	obs := &observers{}
	s := &Store{inner: b, policy: p, changes: obs}
	var kv KV = b.KV()
	var r2 R2 = b.R2()
	var d1 D1 = b.D1()
	for _, a := range p.Off {
		off := Unsupported{Reason: fmt.Sprintf("%s is not served: the server runs with --toolsets leaving out %s (add it to use %s)", a.Title(), a, a.Title())}
		switch a {
		case AreaKV:
			kv = off
		case AreaR2:
			r2 = off
		case AreaD1:
			d1 = off
		}
	}
	s.kv = &guardedKV{inner: kv, policy: p, changes: obs, titles: map[string]cachedNamespace{}, ids: map[string]cachedNamespace{}}
	s.r2 = &guardedR2{inner: r2, policy: p, changes: obs}
	s.d1 = &guardedD1{inner: d1, policy: p, changes: obs}
	return s
}

// Serves reports whether the Store serves area: its Policy does not turn
// it off. Resources and prompts leave out the areas it does not serve.
func (s *Store) Serves(a Area) bool { return !slices.Contains(s.policy.Off, a) }

// ChangeKind says what happened to a namespace or bucket.
type ChangeKind string

// The changes a Store reports to OnChange observers.
const (
	NamespaceCreated ChangeKind = "namespace_created"
	NamespaceRenamed ChangeKind = "namespace_renamed"
	NamespaceDeleted ChangeKind = "namespace_deleted"
	BucketCreated    ChangeKind = "bucket_created"
	BucketDeleted    ChangeKind = "bucket_deleted"
	DatabaseCreated  ChangeKind = "database_created"
	DatabaseDeleted  ChangeKind = "database_deleted"
)

// Change is a namespace or bucket created, renamed or deleted through a
// Store.
type Change struct {
	Kind ChangeKind
	// Namespace is set for namespace changes: its id, and its title when
	// known (the new title for a rename; empty for a delete).
	Namespace Namespace
	// Bucket is the bucket's name, for bucket changes.
	Bucket string
	// Database is set for database changes (its Name may be empty for a
	// delete).
	Database Database
}

// OnChange registers f to be called after every successful create, rename
// or delete of a namespace or bucket made through s, so that the MCP layers
// can tell clients their lists changed without the tools knowing about it.
// f runs on the caller's goroutine, after the backend confirmed the change,
// with the caller's context; it must not block for long. Changes made
// elsewhere (another process, the Cloudflare dashboard) are not reported.
func (s *Store) OnChange(f func(ctx context.Context, c Change)) {
	s.changes.add(f)
}

// observers are the OnChange functions of a Store.
type observers struct {
	mu  sync.RWMutex
	fns []func(context.Context, Change)
}

func (o *observers) add(f func(context.Context, Change)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fns = append(o.fns, f)
}

func (o *observers) notify(ctx context.Context, c Change) {
	o.mu.RLock()
	fns := o.fns
	o.mu.RUnlock()
	for _, f := range fns {
		f(ctx, c)
	}
}

func (s *Store) Name() string   { return s.inner.Name() }
func (s *Store) KV() KV         { return s.kv }
func (s *Store) R2() R2         { return s.r2 }
func (s *Store) D1() D1         { return s.d1 }
func (s *Store) ReadOnly() bool { return s.policy.ReadOnly }
func (s *Store) Close() error   { return s.inner.Close() }

func (s *Store) Describe(ctx context.Context) (Description, error) {
	return s.inner.Describe(ctx)
}

// Namespace resolves a namespace reference: 32 hex digits are an id, used
// without a lookup (its Title is filled only when already known); anything
// else is a title, looked up (and cached briefly).
func (s *Store) Namespace(ctx context.Context, ref string) (Namespace, error) {
	return s.kv.resolve(ctx, ref)
}

// IsNamespaceID reports whether ref has the form of a KV namespace id.
func IsNamespaceID(ref string) bool {
	if len(ref) != 32 {
		return false
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

type cachedNamespace struct {
	ns      Namespace
	expires time.Time
}

type guardedKV struct {
	inner   KV
	policy  Policy
	changes *observers

	mu     sync.Mutex
	titles map[string]cachedNamespace // by title
	ids    map[string]cachedNamespace // by id
}

func (g *guardedKV) write() error {
	if g.policy.ReadOnly {
		return Errorf(CodeReadOnly, "the server runs with --read-only: KV writes are disabled")
	}
	return nil
}

func (g *guardedKV) remember(nss ...Namespace) {
	g.mu.Lock()
	defer g.mu.Unlock()
	exp := g.policy.Now().Add(resolveTTL)
	for _, ns := range nss {
		g.titles[ns.Title] = cachedNamespace{ns, exp}
		g.ids[ns.ID] = cachedNamespace{ns, exp}
	}
}

func (g *guardedKV) forget() {
	g.mu.Lock()
	defer g.mu.Unlock()
	clear(g.titles)
	clear(g.ids)
}

func (g *guardedKV) cached(m map[string]cachedNamespace, k string) (Namespace, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := m[k]
	if !ok || g.policy.Now().After(c.expires) {
		return Namespace{}, false
	}
	return c.ns, true
}

func (g *guardedKV) allowedNS(ns Namespace) bool {
	allow := g.policy.Namespaces
	return len(allow) == 0 || slices.Contains(allow, ns.ID) || (ns.Title != "" && slices.Contains(allow, ns.Title))
}

func notFoundNS(ref string) error {
	return Errorf(CodeNotFound, "namespace %q: no such KV namespace (call list_kv_namespaces to see them)", ref)
}

// check confirms that namespace id is reachable under the allow-list.
func (g *guardedKV) check(ctx context.Context, id string) error {
	if id == "" {
		return invalid("namespace: must not be empty")
	}
	if len(g.policy.Namespaces) == 0 || slices.Contains(g.policy.Namespaces, id) {
		return nil
	}
	ns, ok := g.cached(g.ids, id)
	if !ok {
		var err error
		if ns, err = g.inner.GetNamespace(ctx, id); err != nil {
			return err
		}
		g.remember(ns)
	}
	if !g.allowedNS(ns) {
		return notFoundNS(id)
	}
	return nil
}

func (g *guardedKV) resolve(ctx context.Context, ref string) (Namespace, error) {
	if ref == "" {
		return Namespace{}, invalid("namespace: give a namespace id or title")
	}
	if IsNamespaceID(ref) {
		if err := g.check(ctx, ref); err != nil {
			return Namespace{}, err
		}
		ns, _ := g.cached(g.ids, ref)
		ns.ID = ref
		return ns, nil
	}
	if ns, ok := g.cached(g.titles, ref); ok {
		if !g.allowedNS(ns) {
			return Namespace{}, notFoundNS(ref)
		}
		return ns, nil
	}
	// Whole pages are remembered, so resolving the next title usually costs
	// nothing: this loop pages by hand rather than through AllNamespaces.
	opts := ListOptions{Limit: MaxNamespaceList}
	for {
		page, err := g.inner.ListNamespaces(ctx, opts)
		if err != nil {
			return Namespace{}, err
		}
		g.remember(page.Namespaces...)
		for _, ns := range page.Namespaces {
			if ns.Title == ref {
				if !g.allowedNS(ns) {
					return Namespace{}, notFoundNS(ref)
				}
				return ns, nil
			}
		}
		if page.Cursor == "" {
			return Namespace{}, notFoundNS(ref)
		}
		opts.Cursor = page.Cursor
	}
}

func (g *guardedKV) ListNamespaces(ctx context.Context, opts ListOptions) (NamespacePage, error) {
	if err := ValidateLimit("limit", opts.Limit, 1, MaxNamespaceList); err != nil {
		return NamespacePage{}, err
	}
	page, err := g.inner.ListNamespaces(ctx, opts)
	if err != nil {
		return NamespacePage{}, err
	}
	g.remember(page.Namespaces...)
	page.Namespaces = slices.DeleteFunc(page.Namespaces, func(ns Namespace) bool { return !g.allowedNS(ns) })
	return page, nil
}

func (g *guardedKV) GetNamespace(ctx context.Context, id string) (Namespace, error) {
	if err := g.check(ctx, id); err != nil {
		return Namespace{}, err
	}
	ns, err := g.inner.GetNamespace(ctx, id)
	if err == nil {
		g.remember(ns)
	}
	return ns, err
}

func (g *guardedKV) CreateNamespace(ctx context.Context, title string) (Namespace, error) {
	if err := g.write(); err != nil {
		return Namespace{}, err
	}
	if err := ValidateNamespaceTitle(title); err != nil {
		return Namespace{}, err
	}
	if len(g.policy.Namespaces) > 0 && !slices.Contains(g.policy.Namespaces, title) {
		return Namespace{}, Errorf(CodePermissionDenied, "title: %q is outside --allow-namespaces, so it could not be used once created", title)
	}
	ns, err := g.inner.CreateNamespace(ctx, title)
	g.forget()
	if err == nil {
		g.changes.notify(ctx, Change{Kind: NamespaceCreated, Namespace: ns})
	}
	return ns, err
}

func (g *guardedKV) RenameNamespace(ctx context.Context, id, title string) error {
	if err := g.write(); err != nil {
		return err
	}
	if err := ValidateNamespaceTitle(title); err != nil {
		return err
	}
	if err := g.check(ctx, id); err != nil {
		return err
	}
	err := g.inner.RenameNamespace(ctx, id, title)
	g.forget()
	if err == nil {
		g.changes.notify(ctx, Change{Kind: NamespaceRenamed, Namespace: Namespace{ID: id, Title: title}})
	}
	return err
}

func (g *guardedKV) DeleteNamespace(ctx context.Context, id string) error {
	if err := g.write(); err != nil {
		return err
	}
	if err := g.check(ctx, id); err != nil {
		return err
	}
	err := g.inner.DeleteNamespace(ctx, id)
	g.forget()
	if err == nil {
		g.changes.notify(ctx, Change{Kind: NamespaceDeleted, Namespace: Namespace{ID: id}})
	}
	return err
}

func (g *guardedKV) Get(ctx context.Context, id, key string) (*KVValue, error) {
	if err := ValidateKVKey(key); err != nil {
		return nil, err
	}
	if err := g.check(ctx, id); err != nil {
		return nil, err
	}
	return g.inner.Get(ctx, id, key)
}

func (g *guardedKV) Put(ctx context.Context, id string, p KVPut) error {
	if err := g.write(); err != nil {
		return err
	}
	if err := ValidateKVPut(p, g.policy.Now()); err != nil {
		return err
	}
	if err := g.check(ctx, id); err != nil {
		return err
	}
	return g.inner.Put(ctx, id, p)
}

func (g *guardedKV) Delete(ctx context.Context, id, key string) error {
	if err := g.write(); err != nil {
		return err
	}
	if err := ValidateKVKey(key); err != nil {
		return err
	}
	if err := g.check(ctx, id); err != nil {
		return err
	}
	return g.inner.Delete(ctx, id, key)
}

func (g *guardedKV) List(ctx context.Context, id string, opts ListOptions) (KeyPage, error) {
	if err := ValidateLimit("limit", opts.Limit, MinKVListLimit, MaxKVListLimit); err != nil {
		return KeyPage{}, err
	}
	if len(opts.Prefix) > MaxKVKeyBytes {
		return KeyPage{}, invalid("prefix: %d bytes is over the KV key limit of %d bytes", len(opts.Prefix), MaxKVKeyBytes)
	}
	if err := g.check(ctx, id); err != nil {
		return KeyPage{}, err
	}
	return g.inner.List(ctx, id, opts)
}

func (g *guardedKV) BulkPut(ctx context.Context, id string, entries []KVEntry) (BulkPutResult, error) {
	if err := g.write(); err != nil {
		return BulkPutResult{}, err
	}
	if err := ValidateBulkPut(entries, g.policy.Now()); err != nil {
		return BulkPutResult{}, err
	}
	if err := g.check(ctx, id); err != nil {
		return BulkPutResult{}, err
	}
	return g.inner.BulkPut(ctx, id, entries)
}

func (g *guardedKV) BulkGet(ctx context.Context, id string, keys []string, opts BulkGetOptions) ([]KVItem, error) {
	if err := ValidateKeys(keys, MaxBulkGetKeys); err != nil {
		return nil, err
	}
	if err := g.check(ctx, id); err != nil {
		return nil, err
	}
	return g.inner.BulkGet(ctx, id, keys, opts)
}

func (g *guardedKV) BulkDelete(ctx context.Context, id string, keys []string) (int, error) {
	if err := g.write(); err != nil {
		return 0, err
	}
	if err := ValidateKeys(keys, MaxBulkDeleteKeys); err != nil {
		return 0, err
	}
	if err := g.check(ctx, id); err != nil {
		return 0, err
	}
	return g.inner.BulkDelete(ctx, id, keys)
}

type guardedR2 struct {
	inner   R2
	policy  Policy
	changes *observers
}

func (g *guardedR2) write() error {
	if g.policy.ReadOnly {
		return Errorf(CodeReadOnly, "the server runs with --read-only: R2 writes are disabled")
	}
	return nil
}

func (g *guardedR2) allowed(name string) bool {
	return len(g.policy.Buckets) == 0 || slices.Contains(g.policy.Buckets, name)
}

// check validates a bucket name and confirms it is reachable.
func (g *guardedR2) check(name string) error { return g.checkField("bucket", name) }

func (g *guardedR2) checkField(field, name string) error {
	if err := validateBucketName(field, name); err != nil {
		return err
	}
	if !g.allowed(name) {
		return Errorf(CodeNotFound, "bucket %q: no such R2 bucket (call list_r2_buckets to see them)", name)
	}
	return nil
}

func (g *guardedR2) ListBuckets(ctx context.Context, opts ListOptions) (BucketPage, error) {
	if err := ValidateLimit("limit", opts.Limit, 1, MaxBucketList); err != nil {
		return BucketPage{}, err
	}
	page, err := g.inner.ListBuckets(ctx, opts)
	if err != nil {
		return BucketPage{}, err
	}
	page.Buckets = slices.DeleteFunc(page.Buckets, func(b Bucket) bool { return !g.allowed(b.Name) })
	return page, nil
}

func (g *guardedR2) GetBucket(ctx context.Context, name string) (Bucket, error) {
	if err := g.check(name); err != nil {
		return Bucket{}, err
	}
	return g.inner.GetBucket(ctx, name)
}

func (g *guardedR2) CreateBucket(ctx context.Context, spec BucketSpec) (Bucket, error) {
	if err := g.write(); err != nil {
		return Bucket{}, err
	}
	if err := ValidateBucketSpec(spec); err != nil {
		return Bucket{}, err
	}
	if !g.allowed(spec.Name) {
		return Bucket{}, Errorf(CodePermissionDenied, "name: %q is outside --allow-buckets, so it could not be used once created", spec.Name)
	}
	b, err := g.inner.CreateBucket(ctx, spec)
	if err == nil {
		g.changes.notify(ctx, Change{Kind: BucketCreated, Bucket: b.Name})
	}
	return b, err
}

func (g *guardedR2) DeleteBucket(ctx context.Context, name string) error {
	if err := g.write(); err != nil {
		return err
	}
	if err := g.check(name); err != nil {
		return err
	}
	if err := g.inner.DeleteBucket(ctx, name); err != nil {
		return err
	}
	g.changes.notify(ctx, Change{Kind: BucketDeleted, Bucket: name})
	return nil
}

func (g *guardedR2) ListObjects(ctx context.Context, bucket string, opts ObjectListOptions) (ObjectPage, error) {
	if err := ValidateLimit("limit", opts.Limit, 1, MaxObjectList); err != nil {
		return ObjectPage{}, err
	}
	if len(opts.Prefix) > MaxObjectKeyBytes {
		return ObjectPage{}, invalid("prefix: %d bytes is over the R2 key limit of %d bytes", len(opts.Prefix), MaxObjectKeyBytes)
	}
	if err := g.check(bucket); err != nil {
		return ObjectPage{}, err
	}
	return g.inner.ListObjects(ctx, bucket, opts)
}

func (g *guardedR2) HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	if err := g.check(bucket); err != nil {
		return ObjectInfo{}, err
	}
	if err := ValidateObjectKey(key); err != nil {
		return ObjectInfo{}, err
	}
	return g.inner.HeadObject(ctx, bucket, key)
}

func (g *guardedR2) GetObject(ctx context.Context, bucket, key string, rng *ByteRange) (*Object, error) {
	if err := g.check(bucket); err != nil {
		return nil, err
	}
	if err := ValidateObjectKey(key); err != nil {
		return nil, err
	}
	if err := ValidateRange(rng); err != nil {
		return nil, err
	}
	return g.inner.GetObject(ctx, bucket, key, rng)
}

func (g *guardedR2) PutObject(ctx context.Context, p ObjectPut) (ObjectInfo, error) {
	if err := g.write(); err != nil {
		return ObjectInfo{}, err
	}
	if err := ValidateObjectPut(p); err != nil {
		return ObjectInfo{}, err
	}
	if err := g.check(p.Bucket); err != nil {
		return ObjectInfo{}, err
	}
	return g.inner.PutObject(ctx, p)
}

func (g *guardedR2) CopyObject(ctx context.Context, src, dst ObjectRef) (ObjectInfo, error) {
	if err := g.write(); err != nil {
		return ObjectInfo{}, err
	}
	for _, r := range []struct {
		ref               ObjectRef
		bucketArg, keyArg string
	}{{src, "source_bucket", "source_key"}, {dst, "bucket", "key"}} {
		if err := g.checkField(r.bucketArg, r.ref.Bucket); err != nil {
			return ObjectInfo{}, err
		}
		if err := validateObjectKey(r.keyArg, r.ref.Key); err != nil {
			return ObjectInfo{}, err
		}
	}
	return g.inner.CopyObject(ctx, src, dst)
}

func (g *guardedR2) DeleteObjects(ctx context.Context, bucket string, keys []string) (DeleteResult, error) {
	if err := g.write(); err != nil {
		return DeleteResult{}, err
	}
	if err := g.check(bucket); err != nil {
		return DeleteResult{}, err
	}
	if err := ValidateObjectKeys(keys); err != nil {
		return DeleteResult{}, err
	}
	return g.inner.DeleteObjects(ctx, bucket, keys)
}

func (g *guardedR2) Presign(ctx context.Context, r PresignRequest) (PresignedURL, error) {
	if r.Method == "PUT" {
		if err := g.write(); err != nil {
			return PresignedURL{}, err
		}
	}
	if err := ValidatePresign(r); err != nil {
		return PresignedURL{}, err
	}
	if err := g.check(r.Bucket); err != nil {
		return PresignedURL{}, err
	}
	return g.inner.Presign(ctx, r)
}
