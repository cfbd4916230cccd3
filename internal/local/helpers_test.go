package local

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// testClock is a clock the test moves by hand. It starts at the real time so
// that file times and the sweep's cutoff agree.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Now()} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestBackend is a backend on a fresh data dir with a hand-moved clock.
func newTestBackend(t testing.TB) (*Backend, *testClock) {
	t.Helper()
	clk := newTestClock()
	b := New(t.TempDir(), WithClock(clk.now))
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, clk
}

func openedStore(t testing.TB, b *Backend) *store {
	t.Helper()
	st, err := b.open(context.Background())
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	return st
}

func wantCode(t testing.TB, err error, code storage.Code, contains ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := storage.CodeOf(err); got != code {
		t.Fatalf("got error %q (code %s), want code %s", err, got, code)
	}
	for _, s := range contains {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mkNamespace(t testing.TB, b *Backend, title string) string {
	t.Helper()
	ns, err := b.KV().CreateNamespace(context.Background(), title)
	check(t, err)
	return ns.ID
}

func putKV(t testing.TB, b *Backend, ns, key, value string) {
	t.Helper()
	check(t, b.KV().Put(context.Background(), ns, storage.KVPut{Key: key, Body: strings.NewReader(value), Size: int64(len(value))}))
}

func getKV(t testing.TB, b *Backend, ns, key string) (string, error) {
	t.Helper()
	v, err := b.KV().Get(context.Background(), ns, key)
	if err != nil {
		return "", err
	}
	defer v.Body.Close()
	data, err := io.ReadAll(v.Body)
	check(t, err)
	if int64(len(data)) != v.Size {
		t.Errorf("Get %q: Size %d, body of %d bytes", key, v.Size, len(data))
	}
	return string(data), nil
}

func mkBucket(t testing.TB, b *Backend, name string) {
	t.Helper()
	_, err := b.R2().CreateBucket(context.Background(), storage.BucketSpec{Name: name})
	check(t, err)
}

func putObject(t testing.TB, b *Backend, bucket, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := b.R2().PutObject(context.Background(), storage.ObjectPut{
		Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
	})
	check(t, err)
	return info
}

func getObject(t testing.TB, b *Backend, bucket, key string, rng *storage.ByteRange) ([]byte, *storage.Object, error) {
	t.Helper()
	obj, err := b.R2().GetObject(context.Background(), bucket, key, rng)
	if err != nil {
		return nil, nil, err
	}
	defer obj.Body.Close()
	data, err := io.ReadAll(obj.Body)
	check(t, err)
	if int64(len(data)) != obj.Length {
		t.Errorf("GetObject %q: Length %d, body of %d bytes", key, obj.Length, len(data))
	}
	return data, obj, nil
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// blobFiles lists the blob ids present in dir's blobs/.
func blobFiles(t testing.TB, dir string) []string {
	t.Helper()
	var ids []string
	err := filepath.WalkDir(filepath.Join(dir, blobsDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			ids = append(ids, d.Name())
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return ids
}

func tmpFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, tmpDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// queryPlan returns the detail lines of SQLite's EXPLAIN QUERY PLAN for query.
func queryPlan(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	check(t, err)
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		check(t, rows.Scan(&id, &parent, &notused, &detail))
		plan = append(plan, detail)
	}
	check(t, rows.Err())
	return plan
}
