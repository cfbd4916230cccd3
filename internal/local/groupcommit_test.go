package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// queued waits until n writes wait in st's queue for a transaction.
func queued(t *testing.T, st *store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st.queueMu.Lock()
		got := len(st.queue)
		st.queueMu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10 s, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// Writes that arrive while a transaction is under way share the next one:
// with the write token held, 20 puts queue, and once it is released they
// commit in one transaction, each with its own value.
func TestGroupCommitShares(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	var mu sync.Mutex
	var commits []int
	st.committed = func(n int) {
		mu.Lock()
		defer mu.Unlock()
		commits = append(commits, n)
	}

	const writers = 20
	st.write <- struct{}{} // a transaction under way
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			v := fmt.Sprintf("value %d", i)
			errs <- b.KV().Put(t.Context(), ns, storage.KVPut{Key: fmt.Sprintf("k%d", i), Body: bytes.NewReader([]byte(v)), Size: int64(len(v))})
		}()
	}
	queued(t, st, writers)
	<-st.write
	for range writers {
		check(t, <-errs)
	}
	mu.Lock()
	if len(commits) != 1 || commits[0] != writers {
		t.Errorf("commits of %v writes, want one of %d", commits, writers)
	}
	mu.Unlock()
	for i := range writers {
		if got, err := getKV(t, b, ns, fmt.Sprintf("k%d", i)); err != nil || got != fmt.Sprintf("value %d", i) {
			t.Errorf("k%d = %q, %v", i, got, err)
		}
	}
}

// A write that fails in a group fails alone: its savepoint is rolled back,
// the others commit, and a failed write's blob is removed. The group, in
// queue order: a namespace is deleted; a large value is put into it (its
// check before streaming passed, so its blob is installed); a namespace is
// created with a title that is taken; a value and an object are written.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	doomed := mkNamespace(t, b, "doomed")
	mkBucket(t, b, "bucket")
	st := openedStore(t, b)
	var commits []int
	st.committed = func(n int) { commits = append(commits, n) }

	st.write <- struct{}{}
	type result struct {
		name string
		err  error
	}
	results := make(chan result, 5)
	steps := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"delete doomed", func(ctx context.Context) error { return b.KV().DeleteNamespace(ctx, doomed) }},
		{"large put into doomed", func(ctx context.Context) error {
			v := value(kvInlineMax+1, 1)
			return b.KV().Put(ctx, doomed, storage.KVPut{Key: "big", Body: bytes.NewReader(v), Size: int64(len(v))})
		}},
		{"create taken title", func(ctx context.Context) error {
			_, err := b.KV().CreateNamespace(ctx, "ns")
			return err
		}},
		{"put", func(ctx context.Context) error {
			return b.KV().Put(ctx, ns, storage.KVPut{Key: "k", Body: bytes.NewReader([]byte("v")), Size: 1})
		}},
		{"object", func(ctx context.Context) error {
			_, err := b.R2().PutObject(ctx, storage.ObjectPut{Bucket: "bucket", Key: "o", Body: bytes.NewReader([]byte("o")), Size: 1})
			return err
		}},
	}
	for i, s := range steps {
		go func() {
			results <- result{s.name, s.run(t.Context())}
		}()
		queued(t, st, i+1) // in this order
	}
	blobsQueued := len(blobFiles(t, st.dir))
	<-st.write

	got := map[string]error{}
	for range steps {
		r := <-results
		got[r.name] = r.err
	}
	for _, name := range []string{"delete doomed", "put", "object"} {
		if got[name] != nil {
			t.Errorf("%s: %v", name, got[name])
		}
	}
	wantCode(t, got["large put into doomed"], storage.CodeNotFound, "no such KV namespace")
	wantCode(t, got["create taken title"], storage.CodeAlreadyExists)
	if len(commits) != 1 || commits[0] != 3 {
		t.Errorf("commits of %v writes, want one of 3", commits)
	}

	if v, err := getKV(t, b, ns, "k"); err != nil || v != "v" {
		t.Errorf("k = %q, %v", v, err)
	}
	if data, _, err := getObject(t, b, "bucket", "o", nil); err != nil || string(data) != "o" {
		t.Errorf("object o = %q, %v", data, err)
	}
	page, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	check(t, err)
	if len(page.Namespaces) != 1 || page.Namespaces[0].ID != ns {
		t.Errorf("namespaces %v, want only %s", page.Namespaces, ns)
	}
	if blobsQueued != 2 { // the object's and the large value's
		t.Errorf("%d blob files while queued, want 2", blobsQueued)
	}
	if files := blobFiles(t, st.dir); len(files) != 1 {
		t.Errorf("blob files %q after the group, want only the object's", files)
	}
	wantLiveBlobs(t, st)
}

// A write whose context ends while it is queued leaves the queue with the
// context's error and writes nothing; the writes queued with it commit.
func TestGroupCommitCancelledWhileQueued(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)

	st.write <- struct{}{}
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := make(chan error, 1)
	go func() {
		cancelled <- b.KV().Put(ctx, ns, storage.KVPut{Key: "gone", Body: bytes.NewReader([]byte("x")), Size: 1})
	}()
	queued(t, st, 1)
	kept := make(chan error, 1)
	go func() {
		kept <- b.KV().Put(t.Context(), ns, storage.KVPut{Key: "kept", Body: bytes.NewReader([]byte("y")), Size: 1})
	}()
	queued(t, st, 2)
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled put: %v, want context.Canceled", err)
	}
	queued(t, st, 1) // the other is still queued
	<-st.write
	check(t, <-kept)
	if _, err := getKV(t, b, ns, "gone"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Errorf("the cancelled put was written: %v", err)
	}
	if v, err := getKV(t, b, ns, "kept"); err != nil || v != "y" {
		t.Errorf("kept = %q, %v", v, err)
	}
}

// A write that panics fails alone, as internal: the writes grouped with it
// commit, and the process goes on writing (the token is not left held, no
// writer waits forever).
func TestGroupCommitContainsPanic(t *testing.T) {
	for _, n := range []int{1, 3} { // alone, and in a group
		t.Run(fmt.Sprintf("group of %d", n), func(t *testing.T) {
			b, _ := newTestBackend(t)
			ns := mkNamespace(t, b, "ns")
			st := openedStore(t, b)

			st.write <- struct{}{}
			errs := make(chan error, n)
			go func() {
				errs <- st.update(t.Context(), "boom", func(context.Context, queries) error { panic("boom") })
			}()
			queued(t, st, 1)
			for i := 1; i < n; i++ {
				go func() {
					errs <- b.KV().Put(t.Context(), ns, storage.KVPut{Key: fmt.Sprint("k", i), Body: bytes.NewReader([]byte("v")), Size: 1})
				}()
				queued(t, st, i+1)
			}
			<-st.write

			var internal, ok int
			for range n {
				switch err := <-errs; {
				case err == nil:
					ok++
				case storage.CodeOf(err) == storage.CodeInternal && strings.Contains(err.Error(), "panic: boom"):
					internal++
				default:
					t.Errorf("unexpected error %v", err)
				}
			}
			if internal != 1 || ok != n-1 {
				t.Errorf("%d internal, %d ok; want 1 and %d", internal, ok, n-1)
			}
			for i := 1; i < n; i++ {
				if v, err := getKV(t, b, ns, fmt.Sprint("k", i)); err != nil || v != "v" {
					t.Errorf("k%d = %q, %v", i, v, err)
				}
			}
			done := make(chan error, 1)
			go func() {
				done <- b.KV().Put(t.Context(), ns, storage.KVPut{Key: "after", Body: bytes.NewReader([]byte("v")), Size: 1})
			}()
			select {
			case err := <-done:
				check(t, err)
			case <-time.After(30 * time.Second):
				t.Fatal("a write after the panic never returned: the write token was left held")
			}
		})
	}
}
