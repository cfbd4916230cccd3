package storage_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// fakeBackend records the calls that reach it. It knows namespaces and
// buckets; everything else answers with zero values.
type fakeBackend struct {
	mu         sync.Mutex
	calls      []string
	namespaces []storage.Namespace // in listing order
	buckets    []string
	closed     bool
}

func (f *fakeBackend) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

// took returns the calls so far and forgets them.
func (f *fakeBackend) took() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeBackend) count(call string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fakeBackend) Name() string   { return "fake" }
func (f *fakeBackend) KV() storage.KV { return fakeKV{f} }
func (f *fakeBackend) R2() storage.R2 { return fakeR2{f} }
func (f *fakeBackend) D1() storage.D1 { return storage.Unsupported{Reason: "the fake has no D1"} }
func (f *fakeBackend) Describe(context.Context) (storage.Description, error) {
	f.record("Describe")
	return storage.Description{Backend: "fake", DataDir: "/d"}, nil
}
func (f *fakeBackend) Close() error { f.closed = true; return nil }

type fakeKV struct{ f *fakeBackend }

func (k fakeKV) ListNamespaces(_ context.Context, opts storage.ListOptions) (storage.NamespacePage, error) {
	k.f.record("ListNamespaces")
	start := 0
	if opts.Cursor != "" {
		fmt.Sscan(opts.Cursor, &start)
	}
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultNamespaceList
	}
	end := min(start+limit, len(k.f.namespaces))
	p := storage.NamespacePage{Namespaces: slices.Clone(k.f.namespaces[start:end])}
	if end < len(k.f.namespaces) {
		p.Cursor = fmt.Sprint(end)
	}
	return p, nil
}

func (k fakeKV) GetNamespace(_ context.Context, id string) (storage.Namespace, error) {
	k.f.record("GetNamespace")
	for _, ns := range k.f.namespaces {
		if ns.ID == id {
			return ns, nil
		}
	}
	return storage.Namespace{}, storage.Errorf(storage.CodeNotFound, "namespace %q: not found", id)
}

func (k fakeKV) CreateNamespace(_ context.Context, title string) (storage.Namespace, error) {
	k.f.record("CreateNamespace")
	ns := storage.Namespace{ID: fmt.Sprintf("%032x", len(k.f.namespaces)+1000), Title: title}
	k.f.namespaces = append(k.f.namespaces, ns)
	return ns, nil
}

func (k fakeKV) RenameNamespace(_ context.Context, id, title string) error {
	k.f.record("RenameNamespace")
	for i, ns := range k.f.namespaces {
		if ns.ID == id {
			k.f.namespaces[i].Title = title
		}
	}
	return nil
}

func (k fakeKV) DeleteNamespace(context.Context, string) error {
	k.f.record("DeleteNamespace")
	return nil
}

func (k fakeKV) Get(context.Context, string, string) (*storage.KVValue, error) {
	k.f.record("Get")
	return &storage.KVValue{Body: io.NopCloser(strings.NewReader(""))}, nil
}

func (k fakeKV) Put(context.Context, string, storage.KVPut) error { k.f.record("Put"); return nil }
func (k fakeKV) Delete(context.Context, string, string) error     { k.f.record("Delete"); return nil }
func (k fakeKV) List(context.Context, string, storage.ListOptions) (storage.KeyPage, error) {
	k.f.record("List")
	return storage.KeyPage{}, nil
}
func (k fakeKV) BulkPut(context.Context, string, []storage.KVEntry) (storage.BulkPutResult, error) {
	k.f.record("BulkPut")
	return storage.BulkPutResult{}, nil
}
func (k fakeKV) BulkGet(context.Context, string, []string, storage.BulkGetOptions) ([]storage.KVItem, error) {
	k.f.record("BulkGet")
	return nil, nil
}
func (k fakeKV) BulkDelete(context.Context, string, []string) (int, error) {
	k.f.record("BulkDelete")
	return 0, nil
}

type fakeR2 struct{ f *fakeBackend }

func (r fakeR2) ListBuckets(context.Context, storage.ListOptions) (storage.BucketPage, error) {
	r.f.record("ListBuckets")
	var p storage.BucketPage
	for _, b := range r.f.buckets {
		p.Buckets = append(p.Buckets, storage.Bucket{Name: b})
	}
	return p, nil
}
func (r fakeR2) GetBucket(_ context.Context, name string) (storage.Bucket, error) {
	r.f.record("GetBucket")
	return storage.Bucket{Name: name}, nil
}
func (r fakeR2) CreateBucket(_ context.Context, s storage.BucketSpec) (storage.Bucket, error) {
	r.f.record("CreateBucket")
	return storage.Bucket{Name: s.Name}, nil
}
func (r fakeR2) DeleteBucket(context.Context, string) error { r.f.record("DeleteBucket"); return nil }
func (r fakeR2) ListObjects(context.Context, string, storage.ObjectListOptions) (storage.ObjectPage, error) {
	r.f.record("ListObjects")
	return storage.ObjectPage{}, nil
}
func (r fakeR2) HeadObject(context.Context, string, string) (storage.ObjectInfo, error) {
	r.f.record("HeadObject")
	return storage.ObjectInfo{}, nil
}
func (r fakeR2) GetObject(context.Context, string, string, *storage.ByteRange) (*storage.Object, error) {
	r.f.record("GetObject")
	return &storage.Object{Body: io.NopCloser(strings.NewReader(""))}, nil
}
func (r fakeR2) PutObject(context.Context, storage.ObjectPut) (storage.ObjectInfo, error) {
	r.f.record("PutObject")
	return storage.ObjectInfo{}, nil
}
func (r fakeR2) CopyObject(context.Context, storage.ObjectRef, storage.ObjectRef) (storage.ObjectInfo, error) {
	r.f.record("CopyObject")
	return storage.ObjectInfo{}, nil
}
func (r fakeR2) DeleteObjects(context.Context, string, []string) (storage.DeleteResult, error) {
	r.f.record("DeleteObjects")
	return storage.DeleteResult{}, nil
}
func (r fakeR2) Presign(context.Context, storage.PresignRequest) (storage.PresignedURL, error) {
	r.f.record("Presign")
	return storage.PresignedURL{URL: "https://x"}, nil
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// How long Guard caches a resolved namespace (resolveTTL in guard.go).
const cacheTTL = 30 * time.Second

var (
	nsA = storage.Namespace{ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Title: "Title A"}
	nsB = storage.Namespace{ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Title: "Title B"}
	nsC = storage.Namespace{ID: "cccccccccccccccccccccccccccccccc", Title: "Title C"}
)

func newGuarded(p storage.Policy) (*storage.Store, *fakeBackend, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	if p.Now == nil {
		p.Now = clk.Now
	}
	f := &fakeBackend{namespaces: []storage.Namespace{nsA, nsB, nsC}, buckets: []string{"bucket-a", "bucket-b"}}
	return storage.Guard(f, p), f, clk
}

func wantCalls(t *testing.T, f *fakeBackend, what string, want ...string) {
	t.Helper()
	got := f.took()
	if !slices.Equal(got, want) {
		t.Errorf("%s: backend calls %q, want %q", what, got, want)
	}
}

func wantCode(t *testing.T, what string, err error, code storage.Code) {
	t.Helper()
	if got := storage.CodeOf(err); got != code {
		t.Errorf("%s: %v (code %q), want %s", what, err, got, code)
	}
}

func TestIsNamespaceID(t *testing.T) {
	cases := map[string]bool{
		"0f2ac74b498b48028cb68387c421e279":  true,
		"0F2AC74B498B48028CB68387C421E279":  true,
		"0f2ac74b498b48028cb68387c421e27":   false, // 31
		"0f2ac74b498b48028cb68387c421e2790": false, // 33
		"0f2ac74b498b48028cb68387c421e27g":  false,
		"0f2ac74b-498b-4802-8cb6-8387c421":  false,
		"":                                  false,
		"my namespace":                      false,
	}
	for ref, want := range cases {
		if got := storage.IsNamespaceID(ref); got != want {
			t.Errorf("IsNamespaceID(%q) = %v, want %v", ref, got, want)
		}
	}
}

func TestStorePassesThrough(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{})
	if st.Name() != "fake" {
		t.Errorf("Name = %q", st.Name())
	}
	if st.ReadOnly() {
		t.Error("ReadOnly under the default policy")
	}
	d, err := st.Describe(t.Context())
	if err != nil || d.DataDir != "/d" {
		t.Errorf("Describe = %+v, %v", d, err)
	}
	if err := st.Close(); err != nil || !f.closed {
		t.Errorf("Close = %v, closed %v", err, f.closed)
	}
}

func TestResolveByIDNeedsNoLookup(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{})
	ns, err := st.Namespace(t.Context(), nsB.ID)
	if err != nil || ns.ID != nsB.ID {
		t.Errorf("Namespace(id) = %+v, %v", ns, err)
	}
	wantCalls(t, f, "Namespace(id) without an allow-list")
}

func TestResolveByTitle(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{})
	ns, err := st.Namespace(t.Context(), "Title C")
	if err != nil || ns != nsC {
		t.Errorf("Namespace(title) = %+v, %v; want %+v", ns, err, nsC)
	}
	wantCalls(t, f, "first resolve", "ListNamespaces")

	_, err = st.Namespace(t.Context(), "no such title")
	wantCode(t, "unknown title", err, storage.CodeNotFound)
	_, err = st.Namespace(t.Context(), "")
	wantCode(t, "empty ref", err, storage.CodeInvalidArgument)
}

func TestResolvePagesThroughNamespaces(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{})
	f.namespaces = nil
	for i := range 250 {
		f.namespaces = append(f.namespaces, storage.Namespace{ID: fmt.Sprintf("%032x", i), Title: fmt.Sprintf("ns %d", i)})
	}
	ns, err := st.Namespace(t.Context(), "ns 237")
	if err != nil || ns.ID != fmt.Sprintf("%032x", 237) {
		t.Fatalf("Namespace(ns 237) = %+v, %v", ns, err)
	}
	if n := f.count("ListNamespaces"); n != 3 {
		t.Errorf("%d listings for the 238th of 250 namespaces, want 3 pages of %d", n, storage.MaxNamespaceList)
	}
}

func TestResolveCache(t *testing.T) {
	st, f, clk := newGuarded(storage.Policy{})
	ctx := t.Context()
	for i := range 3 {
		if ns, err := st.Namespace(ctx, "Title A"); err != nil || ns != nsA {
			t.Fatalf("resolve %d = %+v, %v", i, ns, err)
		}
	}
	// A listing also resolves the other titles it saw.
	if ns, err := st.Namespace(ctx, "Title B"); err != nil || ns != nsB {
		t.Fatalf("resolve B = %+v, %v", ns, err)
	}
	wantCalls(t, f, "four resolves within the cache's life", "ListNamespaces")

	clk.Advance(cacheTTL + time.Second)
	if _, err := st.Namespace(ctx, "Title A"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f, "resolve after the cache expired", "ListNamespaces")

	// A rename elsewhere is seen once the cache expires.
	f.namespaces[0].Title = "Title A2"
	_, err := st.Namespace(ctx, "Title A2")
	if err != nil {
		t.Errorf("new title: %v", err)
	}
	clk.Advance(cacheTTL + time.Second)
	_, err = st.Namespace(ctx, "Title A")
	wantCode(t, "old title after the cache expired", err, storage.CodeNotFound)
}

func TestWritesForgetTheCache(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{})
	ctx := t.Context()
	if _, err := st.Namespace(ctx, "Title A"); err != nil {
		t.Fatal(err)
	}
	if err := st.KV().RenameNamespace(ctx, nsA.ID, "Renamed"); err != nil {
		t.Fatal(err)
	}
	f.took()
	_, err := st.Namespace(ctx, "Title A")
	wantCode(t, "old title right after a rename through the store", err, storage.CodeNotFound)
	ns, err := st.Namespace(ctx, "Renamed")
	if err != nil || ns.ID != nsA.ID {
		t.Errorf("new title = %+v, %v", ns, err)
	}
	if n := f.count("ListNamespaces"); n != 1 {
		t.Errorf("%d listings after the rename, want 1 (then cached)", n)
	}

	for name, write := range map[string]func() error{
		"create": func() error { _, err := st.KV().CreateNamespace(ctx, "New"); return err },
		"delete": func() error { return st.KV().DeleteNamespace(ctx, nsB.ID) },
	} {
		if _, err := st.Namespace(ctx, "Title C"); err != nil {
			t.Fatal(err)
		}
		f.took()
		if err := write(); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Namespace(ctx, "Title C"); err != nil {
			t.Fatal(err)
		}
		if n := f.count("ListNamespaces"); n != 1 {
			t.Errorf("after %s: %d listings to resolve, want 1 (the cache was to be forgotten)", name, n)
		}
	}
}

func TestAllowListByTitle(t *testing.T) {
	st, f, clk := newGuarded(storage.Policy{Namespaces: []string{"Title B"}})
	kv, ctx := st.KV(), t.Context()

	// The id of an allowed title is looked up once, then cached.
	if _, err := kv.Get(ctx, nsB.ID, "k"); err != nil {
		t.Fatalf("Get in the allowed namespace: %v", err)
	}
	wantCalls(t, f, "first call by id", "GetNamespace", "Get")
	if _, err := kv.Get(ctx, nsB.ID, "k"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f, "second call by id", "Get")
	clk.Advance(cacheTTL + time.Second)
	if _, err := kv.Get(ctx, nsB.ID, "k"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f, "call after the cache expired", "GetNamespace", "Get")

	// Anything else is not found, and never reaches the data.
	_, err := kv.Get(ctx, nsA.ID, "k")
	wantCode(t, "Get outside", err, storage.CodeNotFound)
	if strings.Contains(err.Error(), nsA.Title) {
		t.Errorf("%q reveals the hidden title", err)
	}
	wantCalls(t, f, "Get outside", "GetNamespace")
	wantCode(t, "Put outside", kv.Put(ctx, nsA.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1}), storage.CodeNotFound)
	wantCode(t, "Delete outside", kv.Delete(ctx, nsA.ID, "k"), storage.CodeNotFound)
	wantCode(t, "Rename outside", kv.RenameNamespace(ctx, nsA.ID, "x"), storage.CodeNotFound)
	wantCode(t, "DeleteNamespace outside", kv.DeleteNamespace(ctx, nsA.ID), storage.CodeNotFound)
	_, err = kv.GetNamespace(ctx, nsA.ID)
	wantCode(t, "GetNamespace outside", err, storage.CodeNotFound)
	_, err = kv.List(ctx, nsA.ID, storage.ListOptions{})
	wantCode(t, "List outside", err, storage.CodeNotFound)
	for _, c := range f.took() {
		if c != "GetNamespace" {
			t.Errorf("a call outside the allow-list reached the backend's %s", c)
		}
	}
	// An id the backend does not know is not found either.
	_, err = kv.Get(ctx, "dddddddddddddddddddddddddddddddd", "k")
	wantCode(t, "unknown id", err, storage.CodeNotFound)

	// Resolution honours the list both ways.
	if ns, err := st.Namespace(ctx, "Title B"); err != nil || ns != nsB {
		t.Errorf("Namespace(allowed title) = %+v, %v", ns, err)
	}
	if ns, err := st.Namespace(ctx, nsB.ID); err != nil || ns.ID != nsB.ID {
		t.Errorf("Namespace(allowed id) = %+v, %v", ns, err)
	}
	_, err = st.Namespace(ctx, "Title A")
	wantCode(t, "Namespace(hidden title)", err, storage.CodeNotFound)
	_, err = st.Namespace(ctx, nsC.ID)
	wantCode(t, "Namespace(hidden id)", err, storage.CodeNotFound)

	// Listings show only what is allowed.
	page, err := kv.ListNamespaces(ctx, storage.ListOptions{})
	if err != nil || len(page.Namespaces) != 1 || page.Namespaces[0] != nsB {
		t.Errorf("ListNamespaces = %+v, %v; want only %+v", page, err, nsB)
	}

	// Creating outside the list is refused before any call.
	f.took()
	_, err = kv.CreateNamespace(ctx, "Title Z")
	wantCode(t, "Create outside", err, storage.CodePermissionDenied)
	wantCalls(t, f, "Create outside")
}

func TestAllowListByID(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{Namespaces: []string{nsA.ID}})
	kv, ctx := st.KV(), t.Context()
	if _, err := kv.Get(ctx, nsA.ID, "k"); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, f, "call on an allowed id", "Get")
	if ns, err := st.Namespace(ctx, "Title A"); err != nil || ns != nsA {
		t.Errorf("Namespace(title of an allowed id) = %+v, %v", ns, err)
	}
	_, err := kv.Get(ctx, nsB.ID, "k")
	wantCode(t, "other id", err, storage.CodeNotFound)
}

func TestAllowListBuckets(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{Buckets: []string{"bucket-a"}})
	r2, ctx := st.R2(), t.Context()
	page, err := r2.ListBuckets(ctx, storage.ListOptions{})
	if err != nil || len(page.Buckets) != 1 || page.Buckets[0].Name != "bucket-a" {
		t.Errorf("ListBuckets = %+v, %v", page, err)
	}
	f.took()
	in := storage.ObjectRef{Bucket: "bucket-a", Key: "k"}
	out := storage.ObjectRef{Bucket: "bucket-b", Key: "k"}
	hidden := map[string]func() error{
		"GetBucket":    func() error { _, err := r2.GetBucket(ctx, "bucket-b"); return err },
		"DeleteBucket": func() error { return r2.DeleteBucket(ctx, "bucket-b") },
		"ListObjects":  func() error { _, err := r2.ListObjects(ctx, "bucket-b", storage.ObjectListOptions{}); return err },
		"HeadObject":   func() error { _, err := r2.HeadObject(ctx, "bucket-b", "k"); return err },
		"GetObject":    func() error { _, err := r2.GetObject(ctx, "bucket-b", "k", nil); return err },
		"PutObject": func() error {
			_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bucket-b", Key: "k", Body: strings.NewReader("")})
			return err
		},
		"CopyOut":       func() error { _, err := r2.CopyObject(ctx, out, in); return err },
		"CopyIn":        func() error { _, err := r2.CopyObject(ctx, in, out); return err },
		"DeleteObjects": func() error { _, err := r2.DeleteObjects(ctx, "bucket-b", []string{"k"}); return err },
		"Presign": func() error {
			_, err := r2.Presign(ctx, storage.PresignRequest{Bucket: "bucket-b", Key: "k", Method: "GET", Expires: time.Hour})
			return err
		},
	}
	for name, op := range hidden {
		wantCode(t, name, op(), storage.CodeNotFound)
	}
	wantCalls(t, f, "calls on a bucket outside the allow-list")
	_, err = r2.CreateBucket(ctx, storage.BucketSpec{Name: "bucket-c"})
	wantCode(t, "CreateBucket outside", err, storage.CodePermissionDenied)
	wantCalls(t, f, "CreateBucket outside")
	if _, err := r2.HeadObject(ctx, "bucket-a", "k"); err != nil {
		t.Errorf("HeadObject inside: %v", err)
	}
	wantCalls(t, f, "HeadObject inside", "HeadObject")
}

func TestReadOnly(t *testing.T) {
	st, f, _ := newGuarded(storage.Policy{ReadOnly: true})
	if !st.ReadOnly() {
		t.Error("ReadOnly() is false")
	}
	kv, r2, ctx := st.KV(), st.R2(), t.Context()
	body := func() io.Reader { return strings.NewReader("v") }
	writes := map[string]func() error{
		"CreateNamespace": func() error { _, err := kv.CreateNamespace(ctx, "x"); return err },
		"RenameNamespace": func() error { return kv.RenameNamespace(ctx, nsA.ID, "x") },
		"DeleteNamespace": func() error { return kv.DeleteNamespace(ctx, nsA.ID) },
		"Put":             func() error { return kv.Put(ctx, nsA.ID, storage.KVPut{Key: "k", Body: body(), Size: 1}) },
		"Delete":          func() error { return kv.Delete(ctx, nsA.ID, "k") },
		"BulkPut": func() error {
			_, err := kv.BulkPut(ctx, nsA.ID, []storage.KVEntry{{Key: "k"}})
			return err
		},
		"BulkDelete":   func() error { _, err := kv.BulkDelete(ctx, nsA.ID, []string{"k"}); return err },
		"CreateBucket": func() error { _, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "abc"}); return err },
		"DeleteBucket": func() error { return r2.DeleteBucket(ctx, "bucket-a") },
		"PutObject": func() error {
			_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bucket-a", Key: "k", Body: body(), Size: 1})
			return err
		},
		"CopyObject": func() error {
			_, err := r2.CopyObject(ctx, storage.ObjectRef{Bucket: "bucket-a", Key: "a"}, storage.ObjectRef{Bucket: "bucket-a", Key: "b"})
			return err
		},
		"DeleteObjects": func() error { _, err := r2.DeleteObjects(ctx, "bucket-a", []string{"k"}); return err },
		"PresignPUT": func() error {
			_, err := r2.Presign(ctx, storage.PresignRequest{Bucket: "bucket-a", Key: "k", Method: "PUT", Expires: time.Hour})
			return err
		},
		// Read-only is reported before any other problem with the call.
		"PutInvalid": func() error { return kv.Put(ctx, nsA.ID, storage.KVPut{Key: ""}) },
	}
	for name, w := range writes {
		err := w()
		wantCode(t, name, err, storage.CodeReadOnly)
		if err != nil && !strings.Contains(err.Error(), "read-only") {
			t.Errorf("%s: %q does not say why", name, err)
		}
	}
	wantCalls(t, f, "writes under read-only")

	reads := map[string]func() error{
		"ListNamespaces": func() error { _, err := kv.ListNamespaces(ctx, storage.ListOptions{}); return err },
		"GetNamespace":   func() error { _, err := kv.GetNamespace(ctx, nsA.ID); return err },
		"Get":            func() error { _, err := kv.Get(ctx, nsA.ID, "k"); return err },
		"List":           func() error { _, err := kv.List(ctx, nsA.ID, storage.ListOptions{}); return err },
		"BulkGet":        func() error { _, err := kv.BulkGet(ctx, nsA.ID, []string{"k"}, storage.BulkGetOptions{}); return err },
		"ListBuckets":    func() error { _, err := r2.ListBuckets(ctx, storage.ListOptions{}); return err },
		"GetBucket":      func() error { _, err := r2.GetBucket(ctx, "bucket-a"); return err },
		"ListObjects":    func() error { _, err := r2.ListObjects(ctx, "bucket-a", storage.ObjectListOptions{}); return err },
		"HeadObject":     func() error { _, err := r2.HeadObject(ctx, "bucket-a", "k"); return err },
		"GetObject":      func() error { _, err := r2.GetObject(ctx, "bucket-a", "k", nil); return err },
		"PresignGET": func() error {
			_, err := r2.Presign(ctx, storage.PresignRequest{Bucket: "bucket-a", Key: "k", Method: "GET", Expires: time.Hour})
			return err
		},
	}
	for name, r := range reads {
		if err := r(); err != nil {
			t.Errorf("%s under read-only: %v", name, err)
		}
	}
	if got := f.took(); len(got) != len(reads) {
		t.Errorf("reads reached the backend as %q, want one call each", got)
	}
}

func TestValidationBeforeIO(t *testing.T) {
	// With an allow-list by title, a valid call would look the namespace up;
	// an invalid one must not touch the backend at all.
	st, f, _ := newGuarded(storage.Policy{Namespaces: []string{"Title A"}, Buckets: []string{"bucket-a"}})
	kv, r2, ctx := st.KV(), st.R2(), t.Context()
	long := strings.Repeat("k", 2000)
	bad := map[string]func() error{
		"Get": func() error { _, err := kv.Get(ctx, nsA.ID, long); return err },
		"Put": func() error {
			return kv.Put(ctx, nsA.ID, storage.KVPut{Key: "k", Body: strings.NewReader(""), Size: storage.MaxKVValueBytes + 1})
		},
		"Delete":     func() error { return kv.Delete(ctx, nsA.ID, "..") },
		"List":       func() error { _, err := kv.List(ctx, nsA.ID, storage.ListOptions{Limit: 5}); return err },
		"ListPrefix": func() error { _, err := kv.List(ctx, nsA.ID, storage.ListOptions{Prefix: long}); return err },
		"BulkPut":    func() error { _, err := kv.BulkPut(ctx, nsA.ID, nil); return err },
		"BulkGet": func() error {
			_, err := kv.BulkGet(ctx, nsA.ID, make([]string, 101), storage.BulkGetOptions{})
			return err
		},
		"BulkDelete":     func() error { _, err := kv.BulkDelete(ctx, nsA.ID, []string{""}); return err },
		"Rename":         func() error { return kv.RenameNamespace(ctx, nsA.ID, "") },
		"ListNamespaces": func() error { _, err := kv.ListNamespaces(ctx, storage.ListOptions{Limit: 101}); return err },
		"EmptyID":        func() error { _, err := kv.Get(ctx, "", "k"); return err },
		"ListBuckets":    func() error { _, err := r2.ListBuckets(ctx, storage.ListOptions{Limit: -1}); return err },
		"CreateBucket":   func() error { _, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "a"}); return err },
		"ListObjects": func() error {
			_, err := r2.ListObjects(ctx, "bucket-a", storage.ObjectListOptions{Limit: 1001})
			return err
		},
		"HeadObject": func() error { _, err := r2.HeadObject(ctx, "bucket-a", ""); return err },
		"GetObject": func() error {
			_, err := r2.GetObject(ctx, "bucket-a", "k", &storage.ByteRange{Start: 2, End: 1})
			return err
		},
		"PutObject": func() error {
			_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bucket-a", Key: long})
			return err
		},
		"CopyObject": func() error {
			_, err := r2.CopyObject(ctx, storage.ObjectRef{Bucket: "bucket-a", Key: "k"}, storage.ObjectRef{Bucket: "bucket-a"})
			return err
		},
		"DeleteObjects": func() error { _, err := r2.DeleteObjects(ctx, "bucket-a", nil); return err },
		"Presign": func() error {
			_, err := r2.Presign(ctx, storage.PresignRequest{Bucket: "bucket-a", Key: "k", Method: "GET"})
			return err
		},
	}
	for name, op := range bad {
		err := op()
		if c := storage.CodeOf(err); c != storage.CodeInvalidArgument && c != storage.CodeTooLarge {
			t.Errorf("%s: %v, want invalid_argument or too_large", name, err)
		}
	}
	wantCalls(t, f, "invalid calls")
}

func TestGuardUsesPolicyClock(t *testing.T) {
	// Expirations are checked against the policy's clock, not the host's.
	future := time.Unix(4_000_000_000, 0)
	st, _, _ := newGuarded(storage.Policy{Now: func() time.Time { return future }})
	err := st.KV().Put(t.Context(), nsA.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1,
		Expiry: storage.Expiry{Expiration: time.Now().Unix() + 3600}})
	wantCode(t, "expiration an hour from the host's now, in the past of the policy's", err, storage.CodeInvalidArgument)

	st, _, _ = newGuarded(storage.Policy{Now: func() time.Time { return time.Unix(1000, 0) }})
	err = st.KV().Put(t.Context(), nsA.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1,
		Expiry: storage.Expiry{Expiration: 1060}})
	if err != nil {
		t.Errorf("expiration exactly 60 s after the policy's now: %v", err)
	}
}

// Under --read-only, a Store refuses a D1 batch that could write before the
// backend sees it: the fake's D1 answers unsupported to every call.
func TestGuardD1ReadOnlyRefusesBeforeTheBackend(t *testing.T) {
	st := storage.Guard(&fakeBackend{}, storage.Policy{ReadOnly: true})
	id := "6f2c9a84-1d0e-4f3b-9a7c-2b5e8d1f4a60"
	for _, sql := range []string{"DELETE FROM t", "SELECT 1; DROP TABLE t", "WITH x AS (SELECT 1) DELETE FROM t", "PRAGMA writable_schema=1", "ATTACH 'x' AS y"} {
		_, err := st.D1().Query(t.Context(), id, []storage.Statement{{SQL: sql}}, storage.QueryOptions{})
		if storage.CodeOf(err) != storage.CodeReadOnly || !strings.Contains(err.Error(), "--read-only") {
			t.Errorf("read-only %q: %v, want read_only", sql, err)
		}
	}
	// A read reaches the backend (which has no D1).
	_, err := st.D1().Query(t.Context(), id, []storage.Statement{{SQL: "select 'a;drop table t'"}}, storage.QueryOptions{})
	if storage.CodeOf(err) != storage.CodeUnsupported {
		t.Errorf("a read: %v, want the backend's unsupported", err)
	}
}

// An area the Policy turns off answers unsupported, naming --toolsets, and
// its backend is never called; the other areas are untouched.
func TestPolicyOffAreas(t *testing.T) {
	ctx := t.Context()
	f := &fakeBackend{namespaces: []storage.Namespace{{ID: strings.Repeat("a", 32), Title: "site-config"}}, buckets: []string{"assets"}}
	s := storage.Guard(f, storage.Policy{Off: storage.Unnamed([]string{"kv", "account"})})
	if !s.Serves(storage.AreaKV) || s.Serves(storage.AreaR2) || s.Serves(storage.AreaD1) {
		t.Fatalf("Serves: kv %v r2 %v d1 %v, want only kv", s.Serves(storage.AreaKV), s.Serves(storage.AreaR2), s.Serves(storage.AreaD1))
	}
	calls := map[string]func() error{
		"ListBuckets": func() error { _, err := s.R2().ListBuckets(ctx, storage.ListOptions{}); return err },
		"CreateBucket": func() error {
			_, err := s.R2().CreateBucket(ctx, storage.BucketSpec{Name: "logos"})
			return err
		},
		"GetObject": func() error { _, err := s.R2().GetObject(ctx, "assets", "a.txt", nil); return err },
		"ListDatabases": func() error {
			_, err := s.D1().ListDatabases(ctx, storage.ListOptions{})
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if storage.CodeOf(err) != storage.CodeUnsupported || !strings.Contains(err.Error(), "--toolsets") {
			t.Errorf("%s: %v, want unsupported naming --toolsets", name, err)
		}
	}
	if got := f.took(); len(got) != 0 {
		t.Errorf("an area that is off reached the backend: %v", got)
	}
	if page, err := s.KV().ListNamespaces(ctx, storage.ListOptions{}); err != nil || len(page.Namespaces) != 1 {
		t.Errorf("KV, which is served: %v %v", page, err)
	}
}

func TestUnnamed(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  []storage.Area
	}{
		{nil, nil},
		{[]string{"kv", "r2", "d1", "account"}, nil},
		{[]string{"account"}, []storage.Area{storage.AreaKV, storage.AreaR2, storage.AreaD1}},
		{[]string{"r2", "d1"}, []storage.Area{storage.AreaKV}},
	} {
		if got := storage.Unnamed(tc.names); !slices.Equal(got, tc.want) {
			t.Errorf("Unnamed(%q) = %v, want %v", tc.names, got, tc.want)
		}
	}
}
