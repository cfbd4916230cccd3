package local

// Tests of KV values over kvInlineMax, which live in blob files.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// patternByte is byte i of a value the tests stream without holding it.
func patternByte(i int64) byte { return byte(i*131 + i>>11) }

// patternReader yields n bytes of the pattern: a plain io.Reader, so Put
// cannot take a shortcut around streaming.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	for i := range p {
		p[i] = patternByte(r.off + int64(i))
	}
	r.off += int64(len(p))
	return len(p), nil
}

func patternSum(n int64) [32]byte {
	h := sha256.New()
	io.CopyBuffer(h, &patternReader{n: n}, make([]byte, 64<<10))
	var s [32]byte
	h.Sum(s[:0])
	return s
}

// valueRow is how kv_values stores a key.
type valueRow struct {
	inline int64  // length of the value column
	blobID string // "" for none
	size   int64  // blob_size, 0 for NULL
}

func readValueRow(t *testing.T, st *store, ns, key string) valueRow {
	t.Helper()
	var (
		r    valueRow
		blob sql.NullString
		size sql.NullInt64
	)
	check(t, st.db.QueryRow("SELECT length(value), blob_id, blob_size FROM kv_values WHERE namespace_id = ? AND key = ?",
		ns, []byte(key)).Scan(&r.inline, &blob, &size))
	r.blobID, r.size = blob.String, size.Int64
	return r
}

// wantLiveBlobs fails unless the files under blobs/ are exactly the blobs
// that rows name.
func wantLiveBlobs(t *testing.T, st *store) {
	t.Helper()
	var named []string
	rows, err := st.db.Query("SELECT blob_id FROM kv_values WHERE blob_id IS NOT NULL UNION ALL SELECT blob_id FROM r2_objects")
	check(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		check(t, rows.Scan(&id))
		named = append(named, id)
	}
	check(t, rows.Err())
	files := blobFiles(t, st.dir)
	slices.Sort(named)
	slices.Sort(files)
	if !slices.Equal(files, named) {
		t.Errorf("blob files %q, but the rows name %q", files, named)
	}
	if tmp := tmpFiles(t, st.dir); len(tmp) != 0 {
		t.Errorf("temp files left: %q", tmp)
	}
}

func value(n int, seed byte) []byte {
	v := make([]byte, n)
	for i := range v {
		v[i] = seed + byte(i*7+i>>10)
	}
	return v
}

func putValue(t *testing.T, b *Backend, ns, key string, v []byte) {
	t.Helper()
	check(t, b.KV().Put(context.Background(), ns, storage.KVPut{Key: key, Body: bytes.NewReader(v), Size: int64(len(v))}))
}

func wantValue(t *testing.T, b *Backend, ns, key string, want []byte) {
	t.Helper()
	got, err := getKV(t, b, ns, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if got != string(want) {
		t.Errorf("Get %q: %d bytes that differ from the %d put", key, len(got), len(want))
	}
	items, err := b.KV().BulkGet(context.Background(), ns, []string{key}, storage.BulkGetOptions{})
	check(t, err)
	if !items[0].Found || !bytes.Equal(items[0].Value, want) || items[0].Value == nil {
		t.Errorf("BulkGet %q: found %v, %d bytes that differ from the %d put", key, items[0].Found, len(items[0].Value), len(want))
	}
}

// Values up to kvInlineMax stay in their row; larger ones are a blob file
// and an empty value column, and all read back byte for byte.
func TestKVValueStorage(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	for _, tc := range []struct {
		size     int
		wantBlob bool
	}{
		{0, false},
		{1, false},
		{kvInlineMax - 1, false},
		{kvInlineMax, false},
		{kvInlineMax + 1, true},
		{3<<20 + 7, true},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			key := fmt.Sprintf("k%d", tc.size)
			v := value(tc.size, byte(tc.size))
			check(t, b.KV().Put(context.Background(), ns, storage.KVPut{Key: key, Body: bytes.NewReader(v), Size: int64(len(v)),
				Metadata: json.RawMessage(`{"m":1}`), Expiry: storage.Expiry{TTL: 3600}}))
			row := readValueRow(t, st, ns, key)
			if tc.wantBlob {
				if row.blobID == "" || row.inline != 0 || row.size != int64(tc.size) {
					t.Fatalf("row %+v, want an empty value column and a blob of %d bytes", row, tc.size)
				}
				data, err := os.ReadFile(st.blobPath(row.blobID))
				check(t, err)
				if !bytes.Equal(data, v) {
					t.Errorf("the blob file holds %d bytes that differ from the value", len(data))
				}
			} else if row.blobID != "" || row.inline != int64(tc.size) || row.size != 0 {
				t.Fatalf("row %+v, want the %d bytes inline", row, tc.size)
			}
			wantValue(t, b, ns, key, v)
			got, err := b.KV().Get(context.Background(), ns, key)
			check(t, err)
			got.Body.Close()
			if got.Size != int64(tc.size) || string(got.Metadata) != `{"m":1}` || got.Expiration == 0 {
				t.Errorf("Get = size %d, metadata %s, expiration %d", got.Size, got.Metadata, got.Expiration)
			}
			if _, isFile := got.Body.(*objectBody); isFile != tc.wantBlob {
				t.Errorf("Get body streams from a file: %v, want %v", isFile, tc.wantBlob)
			}
		})
	}
	wantLiveBlobs(t, st)
	if n := len(blobFiles(t, st.dir)); n != 2 {
		t.Errorf("%d blob files, want 2", n)
	}
}

// Every overwrite leaves exactly the blobs of the live values.
func TestKVOverwriteBlobs(t *testing.T) {
	const large, small = kvInlineMax + 100, 10
	for _, tc := range []struct {
		name  string
		sizes []int
	}{
		{"large to large", []int{large, large * 2, large}},
		{"large to small", []int{large, small}},
		{"small to large", []int{small, large}},
		{"small to small", []int{small, small + 1}},
		{"back and forth", []int{large, small, large, 0, large + 1, kvInlineMax, kvInlineMax + 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := newTestBackend(t)
			ns := mkNamespace(t, b, "ns")
			st := openedStore(t, b)
			putValue(t, b, ns, "other", value(large, 99)) // must survive
			for i, size := range tc.sizes {
				v := value(size, byte(i))
				if i%2 == 0 {
					putValue(t, b, ns, "k", v)
				} else {
					_, err := b.KV().BulkPut(context.Background(), ns, []storage.KVEntry{{Key: "k", Value: v}})
					check(t, err)
				}
				wantValue(t, b, ns, "k", v)
				wantLiveBlobs(t, st)
				want := 1 // "other"
				if size > kvInlineMax {
					want++
				}
				if n := len(blobFiles(t, st.dir)); n != want {
					t.Fatalf("after writing %d bytes: %d blob files, want %d", size, n, want)
				}
			}
			wantValue(t, b, ns, "other", value(large, 99))
		})
	}
}

// Each way a value goes removes its blob, and only its blob.
func TestKVDeleteRemovesBlobs(t *testing.T) {
	const large = kvInlineMax + 1
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// del deletes the values "a" and "b" of namespace ns, not "keep".
		del func(t *testing.T, b *Backend, clk *testClock, ns string)
	}{
		{"Delete", func(t *testing.T, b *Backend, _ *testClock, ns string) {
			check(t, b.KV().Delete(ctx, ns, "a"))
			check(t, b.KV().Delete(ctx, ns, "b"))
		}},
		{"BulkDelete", func(t *testing.T, b *Backend, _ *testClock, ns string) {
			_, err := b.KV().BulkDelete(ctx, ns, []string{"a", "missing", "b", "a"})
			check(t, err)
		}},
		{"DeleteNamespace", func(t *testing.T, b *Backend, _ *testClock, ns string) {
			check(t, b.KV().DeleteNamespace(ctx, ns))
		}},
		{"expiry, purged by Put", func(t *testing.T, b *Backend, clk *testClock, ns string) {
			expire(t, b, clk, ns)
			putKV(t, b, ns, "trigger", "t")
		}},
		{"expiry, purged by BulkPut", func(t *testing.T, b *Backend, clk *testClock, ns string) {
			expire(t, b, clk, ns)
			_, err := b.KV().BulkPut(ctx, ns, []storage.KVEntry{{Key: "trigger", Value: value(large, 1)}})
			check(t, err)
		}},
		{"expiry, purged by BulkDelete", func(t *testing.T, b *Backend, clk *testClock, ns string) {
			expire(t, b, clk, ns)
			_, err := b.KV().BulkDelete(ctx, ns, []string{"nothing"})
			check(t, err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, clk := newTestBackend(t)
			ns := mkNamespace(t, b, "ns")
			other := mkNamespace(t, b, "other")
			st := openedStore(t, b)
			putValue(t, b, ns, "a", value(large, 1))
			putValue(t, b, ns, "b", value(2*large, 2))
			putValue(t, b, ns, "small", []byte("s"))
			putValue(t, b, other, "keep", value(large, 3))
			gone := []string{readValueRow(t, st, ns, "a").blobID, readValueRow(t, st, ns, "b").blobID}

			tc.del(t, b, clk, ns)

			for _, id := range gone {
				if _, err := os.Stat(st.blobPath(id)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the blob of a deleted value is still there: %v", err)
				}
			}
			wantLiveBlobs(t, st)
			wantValue(t, b, other, "keep", value(large, 3))
		})
	}
}

// expire puts a and b of ns again with a TTL and moves the clock past it.
func expire(t *testing.T, b *Backend, clk *testClock, ns string) {
	t.Helper()
	for i, key := range []string{"a", "b"} {
		v := value(kvInlineMax+1+i, byte(i))
		check(t, b.KV().Put(context.Background(), ns, storage.KVPut{Key: key, Body: bytes.NewReader(v), Size: int64(len(v)),
			Expiry: storage.Expiry{TTL: 60}}))
	}
	clk.advance(61 * time.Second)
	_, err := b.KV().Get(context.Background(), ns, "a")
	wantCode(t, err, storage.CodeNotFound)
}

// A large Put that fails stores nothing and leaves no file behind, and the
// value it would have replaced is intact.
func TestKVLargePutFailures(t *testing.T) {
	const n = kvInlineMax + 10
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	old := value(n, 7)
	putValue(t, b, ns, "k", old)

	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		ns     string
		body   io.Reader
		code   storage.Code
		substr string
	}{
		{"short body", ns, bytes.NewReader(value(n-1, 1)), storage.CodeInvalidArgument, "value: got 65545 bytes where its size says 65546"},
		{"long body", ns, bytes.NewReader(value(n+1, 1)), storage.CodeInvalidArgument, "value: holds more bytes than its size of 65546"},
		{"no body", ns, nil, storage.CodeInvalidArgument, "value: is required"},
		{"no namespace", strings.Repeat("0", 32), bytes.NewReader(value(n, 1)), storage.CodeNotFound, "no such KV namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := b.KV().Put(ctx, tc.ns, storage.KVPut{Key: "k", Body: tc.body, Size: n})
			wantCode(t, err, tc.code, tc.substr)
			wantValue(t, b, ns, "k", old)
			wantLiveBlobs(t, st)
		})
	}

	// A write whose transaction fails (here: it never gets the write lock
	// before its deadline) removes the blobs it installed.
	t.Run("transaction fails", func(t *testing.T) {
		st.write <- struct{}{} // hold this process's write lock
		defer func() { <-st.write }()
		for name, write := range map[string]func(ctx context.Context) error{
			"Put": func(ctx context.Context) error {
				return b.KV().Put(ctx, ns, storage.KVPut{Key: "k", Body: bytes.NewReader(value(n, 2)), Size: n})
			},
			"BulkPut": func(ctx context.Context) error {
				_, err := b.KV().BulkPut(ctx, ns, []storage.KVEntry{{Key: "k", Value: value(n, 3)}, {Key: "s", Value: []byte("s")}, {Key: "k2", Value: value(n, 4)}})
				return err
			},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := write(ctx)
			cancel()
			wantCode(t, err, storage.CodeUnavailable)
			if files := blobFiles(t, st.dir); len(files) != 1 {
				t.Errorf("%s: %d blob files after a failed write, want 1 (the old value's)", name, len(files))
			}
		}
	})
	wantValue(t, b, ns, "k", old)
	wantLiveBlobs(t, st)
}

// BulkPut makes blobs of large entries, so that Get streams them; a later
// entry for the same key replaces an earlier one's blob.
func TestKVBulkPutBlobs(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	entries := []storage.KVEntry{
		{Key: "a", Value: value(kvInlineMax+1, 1)},
		{Key: "b", Value: value(10, 2)},
		{Key: "c", Value: value(kvInlineMax, 3)},
		{Key: "a", Value: value(2*kvInlineMax, 4)}, // last wins
		{Key: "d", Value: value(1<<20, 5), Metadata: json.RawMessage(`{"d":true}`)},
	}
	_, err := b.KV().BulkPut(context.Background(), ns, entries)
	check(t, err)
	for _, e := range entries[1:] {
		wantValue(t, b, ns, e.Key, e.Value)
		if blob := readValueRow(t, st, ns, e.Key).blobID != ""; blob != (len(e.Value) > kvInlineMax) {
			t.Errorf("%q of %d bytes: stored as a blob %v", e.Key, len(e.Value), blob)
		}
	}
	items, err := b.KV().BulkGet(context.Background(), ns, []string{"d", "missing", "a"}, storage.BulkGetOptions{})
	check(t, err)
	if !items[0].Found || string(items[0].Metadata) != `{"d":true}` || items[1].Found || !bytes.Equal(items[2].Value, entries[3].Value) {
		t.Errorf("BulkGet = found %v %v %v, metadata %s", items[0].Found, items[1].Found, items[2].Found, items[0].Metadata)
	}
	wantLiveBlobs(t, st)
	if n := len(blobFiles(t, st.dir)); n != 2 {
		t.Errorf("%d blob files, want 2 (a and d)", n)
	}
}

// THE sweep must keep the blobs of KV values: it runs at every open over
// the blobs older than an hour, and would otherwise delete live values.
func TestSweepKeepsKVBlobs(t *testing.T) {
	b, clk := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	mkBucket(t, b, "bk")
	st := openedStore(t, b)
	<-st.sweepDone // the sweep of the open; this test runs its own
	v := value(kvInlineMax+1, 1)
	putValue(t, b, ns, "k", v)
	putObject(t, b, "bk", "o", []byte("object"))
	_, err := b.KV().BulkPut(context.Background(), ns, []storage.KVEntry{{Key: "bulk", Value: v}})
	check(t, err)
	kept := []string{readValueRow(t, st, ns, "k").blobID, readValueRow(t, st, ns, "bulk").blobID}
	orphan := randomID()
	check(t, os.MkdirAll(filepath.Dir(st.blobPath(orphan)), 0o700))
	check(t, os.WriteFile(st.blobPath(orphan), v, 0o600))

	clk.advance(2 * orphanAge)
	check(t, st.sweep(context.Background()))

	if _, err := os.Stat(st.blobPath(orphan)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an unreferenced blob was not swept: %v", err)
	}
	for _, id := range kept {
		if _, err := os.Stat(st.blobPath(id)); err != nil {
			t.Errorf("the sweep removed the blob of a live KV value: %v", err)
		}
	}
	wantValue(t, b, ns, "k", v)
	wantValue(t, b, ns, "bulk", v)
	wantLiveBlobs(t, st)

	// The sweep of an open, two hours on, keeps them too.
	check(t, b.Close())
	b2 := New(st.dir, WithClock(func() time.Time { return clk.now().Add(2 * orphanAge) }))
	defer b2.Close()
	st2 := openedStore(t, b2)
	<-st2.sweepDone
	wantValue(t, b2, ns, "k", v)
	wantValue(t, b2, ns, "bulk", v)

	// The sweep looks each blob up on the index, not by scanning values.
	plan := queryPlan(t, st2.db, "SELECT 1 FROM kv_values WHERE blob_id = ?", orphan)
	if !strings.Contains(strings.Join(plan, "; "), "kv_values_blob_id") {
		t.Errorf("the sweep's lookup does not use kv_values_blob_id: %q", plan)
	}
}

// Readers racing an overwriter that moves a key across the threshold both
// ways always get one whole version, with its own metadata.
func TestKVGetDuringOverwrites(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	size := func(i int) int { // large, small, large, ...
		if i%3 == 1 {
			return 100 + i
		}
		return kvInlineMax + 1 + i*100
	}
	put := func(ctx context.Context, i int) error {
		v := bytes.Repeat([]byte{byte(i)}, size(i))
		return b.KV().Put(ctx, ns, storage.KVPut{Key: "k", Body: bytes.NewReader(v), Size: int64(len(v)),
			Metadata: json.RawMessage(fmt.Sprintf(`{"v":%d}`, i))})
	}
	check(t, put(context.Background(), 0))

	// The writes themselves are never cancelled: one cancelled as it
	// commits may leave its blob to the sweep, which wantLiveBlobs counts.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var writes int
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		for writes = 1; ctx.Err() == nil && writes < 100; writes++ {
			if err := put(context.Background(), writes); err != nil {
				t.Error(err)
			}
		}
	}()
	var reads, bulkReads atomic.Int64
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var (
					data []byte
					meta json.RawMessage
				)
				if r == 0 {
					items, err := b.KV().BulkGet(context.Background(), ns, []string{"k"}, storage.BulkGetOptions{})
					if err != nil || !items[0].Found {
						t.Errorf("BulkGet: %v, %+v", err, items)
						return
					}
					data, meta = items[0].Value, items[0].Metadata
					bulkReads.Add(1)
				} else {
					v, err := b.KV().Get(context.Background(), ns, "k")
					if err != nil {
						t.Error(err)
						return
					}
					data, err = io.ReadAll(v.Body)
					v.Body.Close()
					if err != nil || int64(len(data)) != v.Size {
						t.Errorf("read %d bytes (err %v) of a %d-byte value", len(data), err, v.Size)
						return
					}
					meta = v.Metadata
					reads.Add(1)
				}
				var m struct{ V int }
				if err := json.Unmarshal(meta, &m); err != nil {
					t.Errorf("metadata %s: %v", meta, err)
					return
				}
				if want := bytes.Repeat([]byte{byte(m.V)}, size(m.V)); !bytes.Equal(data, want) {
					t.Errorf("version %d: read %d bytes that are not its %d", m.V, len(data), len(want))
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d writes, %d Get and %d BulkGet reads", writes, reads.Load(), bulkReads.Load())
	if reads.Load() == 0 || bulkReads.Load() == 0 {
		t.Errorf("reads completed: %d Get, %d BulkGet", reads.Load(), bulkReads.Load())
	}
	wantLiveBlobs(t, openedStore(t, b))
}

// The read path chases an overwrite that removes the blob between reading
// the row and opening the file, and reports a blob lost or damaged.
func TestKVBlobVanishes(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	v1, v2 := value(kvInlineMax+1, 1), value(kvInlineMax+2, 2)
	putValue(t, b, ns, "k", v1)

	var seen []string
	r, err := st.withValueBlob(ctx, ns, "k", func(r kvRow) error {
		seen = append(seen, r.blobID)
		if len(seen) == 1 {
			putValue(t, b, ns, "k", v2) // removes blob seen[0]
		}
		f, err := os.Open(st.blobPath(r.blobID))
		if err == nil {
			f.Close()
		}
		return err
	})
	check(t, err)
	if len(seen) != 2 || seen[0] == seen[1] || r.blobID != seen[1] || r.size != int64(len(v2)) {
		t.Errorf("blobs tried %q, ended with %+v", seen, r)
	}

	// Overwritten by a small value meanwhile: that is what is read.
	calls := 0
	r, err = st.withValueBlob(ctx, ns, "k", func(r kvRow) error {
		calls++
		putValue(t, b, ns, "k", []byte("small"))
		_, err := os.Stat(st.blobPath(r.blobID))
		return err
	})
	check(t, err)
	if calls != 1 || r.blobID != "" || string(r.value) != "small" {
		t.Errorf("after %d calls: %+v", calls, r)
	}

	putValue(t, b, ns, "k", v1)
	check(t, os.Remove(st.blobPath(readValueRow(t, st, ns, "k").blobID)))
	_, err = getKV(t, b, ns, "k")
	wantCode(t, err, storage.CodeInternal, "data file", "missing")
	_, err = b.KV().BulkGet(ctx, ns, []string{"k"}, storage.BulkGetOptions{})
	wantCode(t, err, storage.CodeInternal, "data file", "missing")

	putValue(t, b, ns, "torn", v1)
	check(t, os.Truncate(st.blobPath(readValueRow(t, st, ns, "torn").blobID), 2))
	_, err = getKV(t, b, ns, "torn")
	wantCode(t, err, storage.CodeInternal, fmt.Sprintf("holds 2 bytes, not %d", len(v1)))
	_, err = b.KV().BulkGet(ctx, ns, []string{"torn"}, storage.BulkGetOptions{})
	wantCode(t, err, storage.CodeInternal, fmt.Sprintf("holds 2 bytes, not %d", len(v1)))
}

// A value's body belongs to its request, as an object's does.
func TestKVBlobReadCancelled(t *testing.T) {
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	putValue(t, b, ns, "k", value(1<<20, 1))
	ctx, cancel := context.WithCancel(context.Background())
	v, err := b.KV().Get(ctx, ns, "k")
	check(t, err)
	defer v.Body.Close()
	if _, err := io.CopyN(io.Discard, v.Body, 1000); err != nil {
		t.Fatal(err)
	}
	cancel()
	if n, err := io.Copy(io.Discard, v.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("read %d more bytes after the request was cancelled, err %v", n, err)
	}
}

// Memory does not grow with the size of a value: putting and getting
// 20 MiB allocate a small fraction of that.
func TestKVMemory(t *testing.T) {
	const (
		n        = 20 << 20
		maxAlloc = 4 << 20
	)
	b, _ := newTestBackend(t)
	ns := mkNamespace(t, b, "ns")
	st := openedStore(t, b)
	<-st.sweepDone
	putKV(t, b, ns, "warm", "up") // prepare what a first call prepares
	getKV(t, b, ns, "warm")

	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	put := allocated(func() {
		check(t, b.KV().Put(context.Background(), ns, storage.KVPut{Key: "big", Body: &patternReader{n: n}, Size: n}))
	})
	var sum [32]byte
	get := allocated(func() {
		v, err := b.KV().Get(context.Background(), ns, "big")
		check(t, err)
		defer v.Body.Close()
		h := sha256.New()
		if _, err := io.CopyBuffer(h, v.Body, make([]byte, 32<<10)); err != nil {
			t.Fatal(err)
		}
		h.Sum(sum[:0])
	})
	// A bulk read over its cap fails before reading the values.
	bulk := allocated(func() {
		_, err := b.KV().BulkGet(context.Background(), ns, []string{"warm", "big"}, storage.BulkGetOptions{MaxBytes: 1 << 20})
		if storage.CodeOf(err) != storage.CodeTooLarge {
			t.Errorf("BulkGet of %d bytes capped at 1 MiB: %v, want too_large", n, err)
		}
	})
	t.Logf("a %d MiB value: Put allocated %d KiB, Get and reading it %d KiB, a refused BulkGet %d KiB", n>>20, put>>10, get>>10, bulk>>10)
	if bulk > maxAlloc {
		t.Errorf("a BulkGet refused as too large allocated %d bytes: it read the value", bulk)
	}
	if sum != patternSum(n) {
		t.Error("the value read back differs from the value put")
	}
	if put > maxAlloc {
		t.Errorf("Put of %d bytes allocated %d bytes, want under %d", n, put, maxAlloc)
	}
	if get > maxAlloc {
		t.Errorf("Get of %d bytes allocated %d bytes, want under %d", n, get, maxAlloc)
	}
}

// A data dir written before values had blobs (schema version 2) opens,
// and its inline values of any size read and are replaced as before.
func TestKVOldFormat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, d := range []string{blobsDir, tmpDir, d1Dir} {
		check(t, os.Mkdir(filepath.Join(dir, d), 0o700))
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, dbFile)))
	check(t, err)
	for _, m := range migrations[:2] {
		_, err := db.Exec(m)
		check(t, err)
	}
	ns := randomID()
	big, big2 := value(1<<20, 1), value(kvInlineMax+1, 2)
	for _, stmt := range []struct {
		sql  string
		args []any
	}{
		{"PRAGMA user_version = 2", nil},
		{"INSERT INTO kv_namespaces (id, title, created_ms) VALUES (?, 'old', 0)", []any{ns}},
		{"INSERT INTO kv_values (namespace_id, key, metadata, value) VALUES (?, ?, ?, ?)", []any{ns, []byte("big"), `{"old":1}`, big}},
		{"INSERT INTO kv_values (namespace_id, key, value) VALUES (?, ?, ?)", []any{ns, []byte("big2"), big2}},
		{"INSERT INTO kv_values (namespace_id, key, value) VALUES (?, ?, ?)", []any{ns, []byte("small"), []byte("s")}},
		{"INSERT INTO kv_values (namespace_id, key, value) VALUES (?, ?, ?)", []any{ns, []byte("empty"), []byte{}}},
	} {
		_, err := db.Exec(stmt.sql, stmt.args...)
		check(t, err)
	}
	check(t, db.Close())

	b := New(dir)
	defer b.Close()
	st := openedStore(t, b)
	var version int
	check(t, st.db.QueryRow("PRAGMA user_version").Scan(&version))
	if version != len(migrations) {
		t.Errorf("user_version = %d, want %d", version, len(migrations))
	}
	wantValue(t, b, ns, "big", big)
	wantValue(t, b, ns, "big2", big2)
	wantValue(t, b, ns, "small", []byte("s"))
	wantValue(t, b, ns, "empty", []byte{})
	v, err := b.KV().Get(ctx, ns, "big")
	check(t, err)
	v.Body.Close()
	if v.Size != int64(len(big)) || string(v.Metadata) != `{"old":1}` {
		t.Errorf("Get = size %d, metadata %s", v.Size, v.Metadata)
	}
	page, err := b.KV().List(ctx, ns, storage.ListOptions{})
	check(t, err)
	if len(page.Keys) != 4 {
		t.Errorf("List: %+v", page.Keys)
	}

	// An old inline value replaced by a large one becomes a blob; one
	// deleted goes without leaving anything.
	nv := value(2<<20, 3)
	putValue(t, b, ns, "big", nv)
	if readValueRow(t, st, ns, "big").blobID == "" {
		t.Error("the new large value is not a blob")
	}
	wantValue(t, b, ns, "big", nv)
	check(t, b.KV().Delete(ctx, ns, "big2"))
	wantLiveBlobs(t, st)
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Errorf("%d blob files, want 1", n)
	}
}
