package local

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestLazyStart(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "not", "yet")
	b := New(dir)
	defer b.Close()

	if b.Name() != "local" {
		t.Errorf("Name = %q", b.Name())
	}
	d, err := b.Describe(ctx)
	check(t, err)
	if d != (storage.Description{Backend: "local", DataDir: dir}) {
		t.Errorf("Describe = %+v", d)
	}
	_, _ = b.KV(), b.R2()
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("New, Name, Describe, KV and R2 touched the disk: %v", err)
	}

	// The first call creates the layout.
	_, err = b.KV().ListNamespaces(ctx, storage.ListOptions{})
	check(t, err)
	for _, p := range []string{dbFile, blobsDir, tmpDir} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("after the first call: %v", err)
		}
	}
	var mode string
	check(t, openedStore(t, b).db.QueryRow("PRAGMA journal_mode").Scan(&mode))
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
}

func TestCloseUnused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	b := New(dir)
	check(t, b.Close())
	check(t, b.Close())
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close of an unused backend created %s", dir)
	}
	_, err := b.KV().ListNamespaces(context.Background(), storage.ListOptions{})
	wantCode(t, err, storage.CodeUnavailable, "closed")
}

func TestOpenFailureIsRetried(t *testing.T) {
	ctx := context.Background()
	parent := filepath.Join(t.TempDir(), "file")
	check(t, os.WriteFile(parent, nil, 0o600)) // a file where a directory must be
	dir := filepath.Join(parent, "data")
	b := New(dir)
	defer b.Close()

	_, err := b.R2().ListBuckets(ctx, storage.ListOptions{})
	wantCode(t, err, storage.CodeUnavailable, dir)

	check(t, os.Remove(parent))
	_, err = b.R2().ListBuckets(ctx, storage.ListOptions{})
	check(t, err)
}

func TestNoDataDir(t *testing.T) {
	b := New("")
	_, err := b.KV().ListNamespaces(context.Background(), storage.ListOptions{})
	wantCode(t, err, storage.CodeUnavailable, "data dir")
}

// The data is still there on the next open, and a schema from a newer build
// is refused rather than misread.
func TestReopenAndSchemaVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := New(dir)
	ns := mkNamespace(t, b, "ns")
	putKV(t, b, ns, "k", "v")
	mkBucket(t, b, "bk")
	putObject(t, b, "bk", "o", []byte("object"))
	var v int
	check(t, openedStore(t, b).db.QueryRow("PRAGMA user_version").Scan(&v))
	if v != len(migrations) {
		t.Errorf("user_version = %d, want %d", v, len(migrations))
	}
	check(t, b.Close())

	b = New(dir)
	if got, err := getKV(t, b, ns, "k"); err != nil || got != "v" {
		t.Errorf("after reopening: %q, %v", got, err)
	}
	if got, _, err := getObject(t, b, "bk", "o", nil); err != nil || string(got) != "object" {
		t.Errorf("after reopening: %q, %v", got, err)
	}
	_, err := openedStore(t, b).db.Exec("PRAGMA user_version = 99")
	check(t, err)
	check(t, b.Close())

	b = New(dir)
	defer b.Close()
	_, err = b.KV().GetNamespace(ctx, ns)
	wantCode(t, err, storage.CodeUnavailable, "schema version 99", "upgrade")
}

func TestDSNEscapesPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd?name#x%20y")
	b := New(dir)
	defer b.Close()
	mkNamespace(t, b, "ns")
	if _, err := os.Stat(filepath.Join(dir, dbFile)); err != nil {
		t.Errorf("the database is not at %s: %v", dir, err)
	}
	if !strings.Contains(dsn("/a?b"), "/a%3Fb?") {
		t.Errorf("dsn does not escape '?': %s", dsn("/a?b"))
	}
}

// The data dir's URI for SQLite, for the path forms of every platform; the
// Windows ones cannot be made by filepath.ToSlash on Linux, so fileURI takes
// the slash form.
func TestFileURI(t *testing.T) {
	q := url.Values{"_txlock": {"immediate"}}
	for in, want := range map[string]string{
		"/srv/data/cfstorage.db":        "file:///srv/data/cfstorage.db?_txlock=immediate",
		"C:/Users/me/data/cfstorage.db": "file:///C:/Users/me/data/cfstorage.db?_txlock=immediate",
		"//server/share/d/cfstorage.db": "file:////server/share/d/cfstorage.db?_txlock=immediate",
		"C:/odd?name#x/cfstorage.db":    "file:///C:/odd%3Fname%23x/cfstorage.db?_txlock=immediate",
		"/with space/%/cfstorage.db":    "file:///with%20space/%25/cfstorage.db?_txlock=immediate",
	} {
		if got := fileURI(in, q); got != want {
			t.Errorf("fileURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// Many concurrent calls on a fresh store, more than the pool has
// connections, each preparing statements for the first time inside a
// transaction, must not wait on one another for a connection forever.
func TestConcurrentCallsDoNotStarve(t *testing.T) {
	for round := range 3 {
		b, _ := newTestBackend(t)
		ns := mkNamespace(t, b, "ns")
		mkBucket(t, b, "bk")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var wg sync.WaitGroup
		for i := range 4 * maxConns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				switch i % 4 {
				case 0:
					_, err = b.R2().ListObjects(ctx, "bk", storage.ObjectListOptions{Prefix: fmt.Sprint(i), Delimiter: "/"})
				case 1:
					_, err = b.KV().BulkGet(ctx, ns, []string{"a", "b"}, storage.BulkGetOptions{})
				case 2:
					_, err = b.KV().List(ctx, ns, storage.ListOptions{Prefix: fmt.Sprint(i)})
				case 3:
					_, err = b.KV().Get(ctx, ns, "a")
					if errors.Is(err, storage.ErrNotFound) {
						err = nil
					}
				}
				if err != nil {
					t.Errorf("round %d, call %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
		cancel()
	}
}
