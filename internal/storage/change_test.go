package storage_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// OnChange observers hear of every successful create, rename and delete of a
// namespace or bucket, after the backend made it, and of nothing refused.
func TestOnChange(t *testing.T) {
	f := &fakeBackend{}
	s := storage.Guard(f, storage.Policy{Buckets: []string{"allowed", "gone"}})
	var mu sync.Mutex
	var got []storage.Change
	for range 2 { // every observer is called
		s.OnChange(func(_ context.Context, c storage.Change) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
		})
	}
	ctx := context.Background()
	ns, err := s.KV().CreateNamespace(ctx, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.KV().RenameNamespace(ctx, ns.ID, "config"); err != nil {
		t.Fatal(err)
	}
	if err := s.KV().DeleteNamespace(ctx, ns.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.R2().CreateBucket(ctx, storage.BucketSpec{Name: "allowed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.R2().DeleteBucket(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	// Refused before any I/O: nothing to report.
	if _, err := s.R2().CreateBucket(ctx, storage.BucketSpec{Name: "elsewhere"}); err == nil {
		t.Fatal("a bucket outside --allow-buckets was created")
	}
	if _, err := s.KV().CreateNamespace(ctx, ""); err == nil {
		t.Fatal("an empty title was accepted")
	}
	if err := s.R2().DeleteBucket(ctx, "Bad_Name"); err == nil {
		t.Fatal("a bad bucket name was accepted")
	}
	want := []storage.Change{
		{Kind: storage.NamespaceCreated, Namespace: ns},
		{Kind: storage.NamespaceRenamed, Namespace: storage.Namespace{ID: ns.ID, Title: "config"}},
		{Kind: storage.NamespaceDeleted, Namespace: storage.Namespace{ID: ns.ID}},
		{Kind: storage.BucketCreated, Bucket: "allowed"},
		{Kind: storage.BucketDeleted, Bucket: "gone"},
	}
	var twice []storage.Change
	for _, c := range want {
		twice = append(twice, c, c)
	}
	if !slices.Equal(got, twice) {
		t.Errorf("changes = %+v\nwant %+v", got, twice)
	}
	// Read-only stores change nothing and report nothing.
	ro := storage.Guard(f, storage.Policy{ReadOnly: true})
	ro.OnChange(func(context.Context, storage.Change) { t.Error("a read-only store reported a change") })
	if _, err := ro.R2().CreateBucket(ctx, storage.BucketSpec{Name: "nope"}); err == nil {
		t.Fatal("read-only create succeeded")
	}
}
