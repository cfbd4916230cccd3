package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	r2 := b.R2()

	got, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "plain"})
	check(t, err)
	want := storage.Bucket{Name: "plain", CreationDate: time.UnixMilli(clk.now().UnixMilli()).UTC(),
		StorageClass: "Standard", Jurisdiction: "default"}
	if got != want {
		t.Errorf("CreateBucket = %+v, want %+v", got, want)
	}
	spec := storage.BucketSpec{Name: "chosen", LocationHint: "weur", StorageClass: "InfrequentAccess", Jurisdiction: "eu"}
	_, err = r2.CreateBucket(ctx, spec)
	check(t, err)
	got, err = r2.GetBucket(ctx, "chosen")
	check(t, err)
	if got.Location != "weur" || got.StorageClass != "InfrequentAccess" || got.Jurisdiction != "eu" || got.CreationDate.Location() != time.UTC {
		t.Errorf("GetBucket = %+v", got)
	}

	_, err = r2.CreateBucket(ctx, storage.BucketSpec{Name: "plain"})
	wantCode(t, err, storage.CodeAlreadyExists, `"plain"`)
	_, err = r2.GetBucket(ctx, "nope")
	wantCode(t, err, storage.CodeNotFound, `bucket "nope": no such R2 bucket`)
	wantCode(t, r2.DeleteBucket(ctx, "nope"), storage.CodeNotFound)

	putObject(t, b, "plain", "a", []byte("x"))
	putObject(t, b, "plain", "b", []byte("y"))
	wantCode(t, r2.DeleteBucket(ctx, "plain"), storage.CodeConflict, "2 object", "delete them first")
	_, err = r2.DeleteObjects(ctx, "plain", []string{"a", "b"})
	check(t, err)
	check(t, r2.DeleteBucket(ctx, "plain"))
	_, err = r2.GetBucket(ctx, "plain")
	wantCode(t, err, storage.CodeNotFound)
}

func TestListBuckets(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	names := []string{"b-1", "a-2", "a-1", "ab", "c", "a10", "zzz"}
	for _, n := range names {
		mkBucket(t, b, n)
	}
	sort.Strings(names)
	list := func(opts storage.ListOptions) []string {
		var got []string
		for {
			page, err := b.R2().ListBuckets(ctx, opts)
			check(t, err)
			if opts.Limit > 0 && len(page.Buckets) > opts.Limit {
				t.Fatalf("%d buckets on a page of limit %d", len(page.Buckets), opts.Limit)
			}
			for _, bk := range page.Buckets {
				got = append(got, bk.Name)
			}
			if page.Cursor == "" {
				return got
			}
			opts.Cursor = page.Cursor
		}
	}
	for _, limit := range []int{0, 1, 2, 7, 8} {
		if got := list(storage.ListOptions{Limit: limit}); !slices.Equal(got, names) {
			t.Errorf("limit %d: %q, want %q", limit, got, names)
		}
	}
	if got := list(storage.ListOptions{Prefix: "a", Limit: 2}); !slices.Equal(got, []string{"a-1", "a-2", "a10", "ab"}) {
		t.Errorf("prefix a: %q", got)
	}
	_, err := b.R2().ListBuckets(ctx, storage.ListOptions{Cursor: cursor{Kind: kindNamespaces}.encode()})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor:")
}

func TestObjectPutGetHead(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	r2 := b.R2()
	mkBucket(t, b, "bk")
	dir := openedStore(t, b).dir

	data := []byte("hello, world")
	var progress []int64
	put := storage.ObjectPut{
		Bucket: "bk", Key: "../../etc/passwd", Body: bytes.NewReader(data), Size: int64(len(data)),
		HTTP: storage.HTTPMetadata{ContentType: "text/plain", ContentLanguage: "en", ContentDisposition: "inline",
			ContentEncoding: "identity", CacheControl: "no-cache"},
		CustomMetadata: map[string]string{"owner": "me", "é": "ü"},
		Progress:       func(n int64) { progress = append(progress, n) },
	}
	info, err := r2.PutObject(ctx, put)
	check(t, err)
	wantInfo := storage.ObjectInfo{Key: put.Key, Size: int64(len(data)), ETag: md5hex(data),
		Uploaded: time.UnixMilli(clk.now().UnixMilli()).UTC(), HTTP: put.HTTP, CustomMetadata: put.CustomMetadata}
	sameInfo(t, "PutObject", info, wantInfo)
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(data)) {
		t.Errorf("progress reports %v, want it to end at %d", progress, len(data))
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "..", "etc", "passwd")); err == nil {
		t.Error("the key was used as a path")
	}

	head, err := r2.HeadObject(ctx, "bk", put.Key)
	check(t, err)
	sameInfo(t, "HeadObject", head, wantInfo)
	got, obj, err := getObject(t, b, "bk", put.Key, nil)
	check(t, err)
	sameInfo(t, "GetObject", obj.Info, wantInfo)
	if !bytes.Equal(got, data) {
		t.Errorf("GetObject body %q", got)
	}

	_, err = r2.HeadObject(ctx, "bk", "nope")
	wantCode(t, err, storage.CodeNotFound, `"nope"`, `"bk"`)
	_, _, err = getObject(t, b, "bk", "nope", nil)
	wantCode(t, err, storage.CodeNotFound)
	_, _, err = getObject(t, b, "nobucket", "k", nil)
	wantCode(t, err, storage.CodeNotFound, "no such R2 bucket")
	_, err = r2.PutObject(ctx, storage.ObjectPut{Bucket: "nobucket", Key: "k", Body: strings.NewReader(""), Size: 0})
	wantCode(t, err, storage.CodeNotFound, "no such R2 bucket")

	t.Run("overwrite replaces the blob", func(t *testing.T) {
		before := blobFiles(t, dir)
		clk.advance(time.Minute)
		info := putObject(t, b, "bk", put.Key, []byte("v2"))
		if info.CustomMetadata != nil || info.HTTP != (storage.HTTPMetadata{}) {
			t.Errorf("overwrite kept metadata: %+v", info)
		}
		after := blobFiles(t, dir)
		if len(after) != len(before) || slices.Equal(after, before) {
			t.Errorf("blobs before %q, after %q: want the old one replaced", before, after)
		}
		got, obj, err := getObject(t, b, "bk", put.Key, nil)
		check(t, err)
		if string(got) != "v2" || !obj.Info.Uploaded.Equal(time.UnixMilli(clk.now().UnixMilli())) {
			t.Errorf("after overwrite: %q uploaded %v", got, obj.Info.Uploaded)
		}
	})

	t.Run("empty object", func(t *testing.T) {
		putObject(t, b, "bk", "empty", nil)
		got, obj, err := getObject(t, b, "bk", "empty", nil)
		check(t, err)
		if len(got) != 0 || obj.Length != 0 || obj.Info.ETag != md5hex(nil) {
			t.Errorf("empty object: %q %+v", got, obj)
		}
	})

	t.Run("size mismatch stores nothing", func(t *testing.T) {
		before := blobFiles(t, dir)
		for _, tc := range []struct {
			body string
			size int64
		}{{"short", 10}, {"too long", 3}, {"", -1}} {
			_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bk", Key: "empty", Body: strings.NewReader(tc.body), Size: tc.size})
			wantCode(t, err, storage.CodeInvalidArgument, "content:")
		}
		_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bk", Key: "empty", Size: 1})
		wantCode(t, err, storage.CodeInvalidArgument, "content:")
		if got := blobFiles(t, dir); !slices.Equal(got, before) {
			t.Errorf("blobs changed: %q, then %q", before, got)
		}
		if tmp := tmpFiles(t, dir); len(tmp) != 0 {
			t.Errorf("temp files left: %q", tmp)
		}
		if got, _, _ := getObject(t, b, "bk", "empty", nil); len(got) != 0 {
			t.Errorf("object changed to %q", got)
		}
	})

	t.Run("cancelled upload stores nothing", func(t *testing.T) {
		before := blobFiles(t, dir)
		ctx, cancel := context.WithCancel(ctx)
		body := &cancellingReader{r: bytes.NewReader(make([]byte, 8<<20)), after: 3 << 20, cancel: cancel}
		_, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "bk", Key: "big", Body: body, Size: 8 << 20})
		wantCode(t, err, storage.CodeUnavailable)
		if body.read >= 8<<20 {
			t.Errorf("the upload read all %d bytes after being cancelled", body.read)
		}
		if got := blobFiles(t, dir); !slices.Equal(got, before) {
			t.Errorf("blobs changed: %q, then %q", before, got)
		}
		if tmp := tmpFiles(t, dir); len(tmp) != 0 {
			t.Errorf("temp files left: %q", tmp)
		}
		_, err = r2.HeadObject(context.Background(), "bk", "big")
		wantCode(t, err, storage.CodeNotFound)
	})

	t.Run("cancelled download stops", func(t *testing.T) {
		putObject(t, b, "bk", "big", make([]byte, 4<<20))
		ctx, cancel := context.WithCancel(ctx)
		obj, err := r2.GetObject(ctx, "bk", "big", nil)
		check(t, err)
		defer obj.Body.Close()
		if _, err := io.CopyN(io.Discard, obj.Body, 1<<20); err != nil {
			t.Fatal(err)
		}
		cancel()
		n, err := io.Copy(io.Discard, obj.Body)
		if n != 0 || storage.CodeOf(err) != storage.CodeUnavailable {
			t.Errorf("after cancel: read %d more bytes, error %v", n, err)
		}
	})

	t.Run("presign", func(t *testing.T) {
		_, err := r2.Presign(ctx, storage.PresignRequest{Bucket: "bk", Key: "k", Method: "GET", Expires: time.Hour})
		wantCode(t, err, storage.CodeUnsupported, "--backend cloudflare")
	})
}

// cancellingReader cancels its context once after bytes have been read.
type cancellingReader struct {
	r      io.Reader
	after  int
	read   int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func sameInfo(t *testing.T, what string, got, want storage.ObjectInfo) {
	t.Helper()
	if got.Key != want.Key || got.Size != want.Size || got.ETag != want.ETag || !got.Uploaded.Equal(want.Uploaded) ||
		got.Uploaded.Location() != time.UTC || got.HTTP != want.HTTP || fmt.Sprint(got.CustomMetadata) != fmt.Sprint(want.CustomMetadata) {
		t.Errorf("%s = %+v\nwant %+v", what, got, want)
	}
}

func TestObjectRanges(t *testing.T) {
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	data := []byte("0123456789")
	putObject(t, b, "bk", "k", data)

	tests := []struct {
		name       string
		start, end int64
		want       string
		errCode    storage.Code
	}{
		{"whole", 0, -1, "0123456789", ""},
		{"middle", 2, 5, "2345", ""},
		{"one byte", 9, 9, "9", ""},
		{"from", 7, -1, "789", ""},
		{"end clamped", 8, 1000, "89", ""},
		{"start at size", 10, -1, "", storage.CodeInvalidArgument},
		{"start beyond", 11, 20, "", storage.CodeInvalidArgument},
		{"end before start", 5, 4, "", storage.CodeInvalidArgument},
		{"negative start", -1, 3, "", storage.CodeInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, obj, err := getObject(t, b, "bk", "k", &storage.ByteRange{Start: tt.start, End: tt.end})
			if tt.errCode != "" {
				wantCode(t, err, tt.errCode)
				return
			}
			check(t, err)
			if string(got) != tt.want || obj.Length != int64(len(tt.want)) || obj.Info.Size != int64(len(data)) {
				t.Errorf("got %q (Length %d, Size %d), want %q", got, obj.Length, obj.Info.Size, tt.want)
			}
		})
	}
	_, _, err := getObject(t, b, "bk", "k", &storage.ByteRange{Start: 10, End: -1})
	wantCode(t, err, storage.CodeInvalidArgument, "range_start: 10 is beyond the object size 10")
}

// listModel is S3's listing, computed naively from the sorted keys: the
// entries (objects and common prefixes) in order.
func listModel(keys []string, prefix, delim string) (entries []string, isPrefix []bool) {
	sorted := slices.Clone(keys)
	sort.Strings(sorted)
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if n := len(entries); n == 0 || entries[n-1] != cp || !isPrefix[n-1] {
					entries, isPrefix = append(entries, cp), append(isPrefix, true)
				}
				continue
			}
		}
		entries, isPrefix = append(entries, k), append(isPrefix, false)
	}
	return entries, isPrefix
}

func TestListObjects(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	keys := []string{
		"a", "a/b", "a/b/c", "a/c", "a\x7f", "é", "é/x", "b", "b/", "b//c", "photos/2024/jan.jpg", "photos/2024/feb.jpg",
		"photos/2025/a.jpg", "photos/readme", "photos/", "z%/1", "z_/1", "zz", "a/b%", "a-b", "a.b", "a0",
		"deep/1/2/3/4", "deep/1/x", "deep/2", "ü/ü/ü", "a//", "a//b",
	}
	for _, k := range keys {
		putObject(t, b, "bk", k, []byte(k))
	}

	for _, prefix := range []string{"", "a", "a/", "photos/", "photos/2024/", "deep/1/", "é", "z", "nope", "a//"} {
		for _, delim := range []string{"", "/", "//", "b", "é"} {
			wantEntries, wantIsPrefix := listModel(keys, prefix, delim)
			for _, limit := range []int{1, 2, 3, 5, 1000} {
				name := fmt.Sprintf("prefix=%q,delim=%q,limit=%d", prefix, delim, limit)
				var gotEntries []string
				var gotIsPrefix []bool
				opts := storage.ObjectListOptions{Prefix: prefix, Delimiter: delim, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > len(keys)+1 {
						t.Fatalf("%s: listing does not end", name)
					}
					page, err := b.R2().ListObjects(ctx, "bk", opts)
					check(t, err)
					if page.Objects == nil || page.Prefixes == nil {
						t.Fatalf("%s: nil slice in %+v", name, page)
					}
					if n := len(page.Objects) + len(page.Prefixes); n > limit || (page.Cursor != "" && n < limit) {
						t.Fatalf("%s: page of %d entries, cursor %q", name, n, page.Cursor)
					}
					// Merge the page's objects and prefixes back into key order.
					for _, o := range page.Objects {
						if o.Size != int64(len(o.Key)) || o.ETag != md5hex([]byte(o.Key)) {
							t.Errorf("%s: object %+v", name, o)
						}
					}
					type entry struct {
						name   string
						prefix bool
					}
					var es []entry
					for _, o := range page.Objects {
						es = append(es, entry{o.Key, false})
					}
					for _, p := range page.Prefixes {
						es = append(es, entry{p, true})
					}
					sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
					for _, e := range es {
						gotEntries, gotIsPrefix = append(gotEntries, e.name), append(gotIsPrefix, e.prefix)
					}
					if page.Cursor == "" {
						break
					}
					opts.Cursor = page.Cursor
				}
				if !slices.Equal(gotEntries, wantEntries) || !slices.Equal(gotIsPrefix, wantIsPrefix) {
					t.Errorf("%s:\n got %q %v\nwant %q %v", name, gotEntries, gotIsPrefix, wantEntries, wantIsPrefix)
				}
			}
		}
	}

	_, err := b.R2().ListObjects(ctx, "nobucket", storage.ObjectListOptions{})
	wantCode(t, err, storage.CodeNotFound)
	_, err = b.R2().ListObjects(ctx, "bk", storage.ObjectListOptions{Cursor: "x"})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor:")
}

// A rolled-up prefix is skipped by seeking on the index: the listing reads
// one row under it, not all of them.
func TestListObjectsSeeksPastPrefixes(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	st := openedStore(t, b)
	// Rows straight into the table: the blobs do not matter to a listing.
	tx, err := st.db.Begin()
	check(t, err)
	for i := range 1000 {
		_, err := tx.Exec("INSERT INTO r2_objects (bucket, key, size, etag, uploaded_ms, blob_id) VALUES ('bk', ?, 0, '', 0, ?)",
			[]byte(fmt.Sprintf("big/%05d", i)), randomID())
		check(t, err)
	}
	check(t, tx.Commit())
	putObject(t, b, "bk", "zz", nil)

	l := objectLister{bucket: "bk", delim: []byte("/"), limit: 1, page: storage.ObjectPage{}}
	check(t, st.view(ctx, "test", func(tx queries) error { return l.run(ctx, tx) }))
	if !slices.Equal(l.page.Prefixes, []string{"big/"}) || len(l.page.Objects) != 0 || l.scanned != 1 {
		t.Errorf("page 1: %+v after reading %d rows", l.page, l.scanned)
	}
	l = objectLister{bucket: "bk", delim: []byte("/"), limit: 10, pos: l.pos}
	check(t, st.view(ctx, "test", func(tx queries) error { return l.run(ctx, tx) }))
	if len(l.page.Objects) != 1 || l.page.Objects[0].Key != "zz" || l.scanned != 1 {
		t.Errorf("page 2: %+v after reading %d rows", l.page, l.scanned)
	}

	// And SQLite seeks too: the position is a range on the primary key.
	l.pos = cursor{Key: []byte("big0"), Incl: true}
	w := l.where()
	plan := queryPlan(t, st.db, "SELECT "+objectCols+" FROM r2_objects"+w.sql()+" ORDER BY key LIMIT 1", w.args...)
	if len(plan) != 1 || !strings.Contains(plan[0], "SEARCH r2_objects USING PRIMARY KEY (bucket=? AND key>?)") {
		t.Errorf("query plan %q: want a search on the primary key range", plan)
	}
}

func TestCopyObject(t *testing.T) {
	ctx := context.Background()
	b, clk := newTestBackend(t)
	r2 := b.R2()
	mkBucket(t, b, "src")
	mkBucket(t, b, "dst")
	data := bytes.Repeat([]byte("copy me "), 1000)
	src, err := r2.PutObject(ctx, storage.ObjectPut{Bucket: "src", Key: "a", Body: bytes.NewReader(data), Size: int64(len(data)),
		HTTP: storage.HTTPMetadata{ContentType: "text/plain", CacheControl: "max-age=60"}, CustomMetadata: map[string]string{"k": "v"}})
	check(t, err)
	clk.advance(time.Hour)

	info, err := r2.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "a"}, storage.ObjectRef{Bucket: "dst", Key: "b/c"})
	check(t, err)
	want := src
	want.Key, want.Uploaded = "b/c", time.UnixMilli(clk.now().UnixMilli()).UTC()
	sameInfo(t, "CopyObject", info, want)
	head, err := r2.HeadObject(ctx, "dst", "b/c")
	check(t, err)
	sameInfo(t, "HeadObject of the copy", head, want)

	// The copy outlives its source.
	_, err = r2.DeleteObjects(ctx, "src", []string{"a"})
	check(t, err)
	got, _, err := getObject(t, b, "dst", "b/c", nil)
	check(t, err)
	if !bytes.Equal(got, data) {
		t.Error("the copy's bytes differ from the source's")
	}

	// Onto itself, and onto an existing object.
	putObject(t, b, "src", "x", []byte("x"))
	_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: "dst", Key: "b/c"}, storage.ObjectRef{Bucket: "dst", Key: "b/c"})
	check(t, err)
	_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "x"}, storage.ObjectRef{Bucket: "dst", Key: "b/c"})
	check(t, err)
	if got, _, _ := getObject(t, b, "dst", "b/c", nil); string(got) != "x" {
		t.Errorf("copy over an object: %q", got)
	}
	// One blob per object: nothing leaked by the copies.
	if n := len(blobFiles(t, openedStore(t, b).dir)); n != 2 {
		t.Errorf("%d blob files for 2 objects", n)
	}

	_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "gone"}, storage.ObjectRef{Bucket: "dst", Key: "y"})
	wantCode(t, err, storage.CodeNotFound, `"gone"`)
	_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: "nobucket", Key: "x"}, storage.ObjectRef{Bucket: "dst", Key: "y"})
	wantCode(t, err, storage.CodeNotFound, "nobucket")
	_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: "src", Key: "x"}, storage.ObjectRef{Bucket: "nobucket", Key: "y"})
	wantCode(t, err, storage.CodeNotFound, "nobucket")
}

// Without hard links, a copy streams the bytes.
func TestCopyBlobFallback(t *testing.T) {
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	data := []byte("streamed copy")
	putObject(t, b, "bk", "a", data)
	st := openedStore(t, b)
	o, err := readObject(context.Background(), st.db, "bk", "a")
	check(t, err)
	id, err := st.copyBlob(context.Background(), o)
	check(t, err)
	got, err := os.ReadFile(st.blobPath(id))
	check(t, err)
	if id == o.blobID || !bytes.Equal(got, data) {
		t.Errorf("copyBlob made blob %s holding %q", id, got)
	}
	// A blob that does not match its ETag is not copied.
	o.info.ETag = md5hex([]byte("something else"))
	_, err = st.copyBlob(context.Background(), o)
	wantCode(t, err, storage.CodeInternal, "ETag")
}

func TestDeleteObjects(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	dir := openedStore(t, b).dir
	for _, k := range []string{"a", "b", "c"} {
		putObject(t, b, "bk", k, []byte(k))
	}
	res, err := b.R2().DeleteObjects(ctx, "bk", []string{"a", "missing", "c", "a"})
	check(t, err)
	if !slices.Equal(res.Deleted, []string{"a", "missing", "c", "a"}) || res.Errors == nil || len(res.Errors) != 0 {
		t.Errorf("DeleteObjects = %+v", res)
	}
	if n := len(blobFiles(t, dir)); n != 1 {
		t.Errorf("%d blob files left for 1 object", n)
	}
	page, err := b.R2().ListObjects(ctx, "bk", storage.ObjectListOptions{})
	check(t, err)
	if len(page.Objects) != 1 || page.Objects[0].Key != "b" {
		t.Errorf("left: %+v", page.Objects)
	}
	_, err = b.R2().DeleteObjects(ctx, "nobucket", []string{"a"})
	wantCode(t, err, storage.CodeNotFound)
}

// Readers racing an overwriter always get one whole version: the blob they
// opened, or the next one when theirs was removed before they opened it.
func TestGetObjectDuringOverwrites(t *testing.T) {
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	version := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 4096+i) }
	putObject(t, b, "bk", "k", version(0))

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ctx.Err() == nil && i < 200; i++ {
			data := version(i)
			if _, err := b.R2().PutObject(ctx, storage.ObjectPut{Bucket: "bk", Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}
		cancel()
	}()
	var reads atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				obj, err := b.R2().GetObject(context.Background(), "bk", "k", nil)
				if err != nil {
					t.Error(err)
					return
				}
				data, err := io.ReadAll(obj.Body)
				obj.Body.Close()
				if err != nil || md5hex(data) != obj.Info.ETag || int64(len(data)) != obj.Info.Size {
					t.Errorf("read %d bytes (err %v) of a %d-byte object with ETag %s", len(data), err, obj.Info.Size, obj.Info.ETag)
					return
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	if reads.Load() == 0 {
		t.Error("no read completed")
	}
}

func TestSweep(t *testing.T) {
	b, clk := newTestBackend(t)
	mkBucket(t, b, "bk")
	putObject(t, b, "bk", "kept", []byte("kept"))
	st := openedStore(t, b)
	<-st.sweepDone // the sweep of the open; this test runs its own

	orphan := randomID()
	check(t, os.MkdirAll(filepath.Dir(st.blobPath(orphan)), 0o700))
	check(t, os.WriteFile(st.blobPath(orphan), []byte("torn"), 0o600))
	young := randomID()
	check(t, os.MkdirAll(filepath.Dir(st.blobPath(young)), 0o700))
	check(t, os.WriteFile(st.blobPath(young), []byte("in flight"), 0o600))
	foreign := filepath.Join(st.blobs, orphan[:2], "README")
	check(t, os.WriteFile(foreign, nil, 0o600))
	temp := filepath.Join(st.tmp, "put-123")
	check(t, os.WriteFile(temp, nil, 0o600))

	clk.advance(2 * time.Hour)
	// Only the young blob was written "now".
	check(t, os.Chtimes(st.blobPath(young), clk.now(), clk.now()))
	check(t, st.sweep(context.Background()))

	for path, wantKept := range map[string]bool{
		st.blobPath(orphan): false, temp: false,
		st.blobPath(young): true, foreign: true,
	} {
		if _, err := os.Stat(path); (err == nil) != wantKept {
			t.Errorf("%s: kept = %v, want %v", path, err == nil, wantKept)
		}
	}
	if got, _, err := getObject(t, b, "bk", "kept", nil); err != nil || string(got) != "kept" {
		t.Errorf("a referenced blob was swept: %q, %v", got, err)
	}

	// The sweep runs on open.
	check(t, os.WriteFile(temp, nil, 0o600))
	check(t, b.Close())
	b2 := New(st.dir, WithClock(func() time.Time { return clk.now().Add(2 * time.Hour) }))
	defer b2.Close()
	st2 := openedStore(t, b2)
	<-st2.sweepDone
	if _, err := os.Stat(temp); err == nil {
		t.Error("opening the store did not sweep an old temp file")
	}
}

// TestRandomObjects puts random sizes through the whole path.
func TestRandomObjects(t *testing.T) {
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	for i := range 20 {
		key := fmt.Sprintf("obj/%d", i)
		data := content(key, uint64(i), 3<<20)
		info := putObject(t, b, "bk", key, data)
		if info.ETag != md5hex(data) {
			t.Fatalf("%s: ETag %s, want %s", key, info.ETag, md5hex(data))
		}
		got, _, err := getObject(t, b, "bk", key, nil)
		check(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: bytes differ", key)
		}
	}
}

// The read path chases an overwrite that removes the blob between reading
// the row and opening the file, and reports a blob lost from under its row.
func TestBlobVanishes(t *testing.T) {
	ctx := context.Background()
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bk")
	putObject(t, b, "bk", "k", []byte("v1"))
	st := openedStore(t, b)

	var seen []string
	o, err := st.withBlob(ctx, "bk", "k", func(o objectRow) error {
		seen = append(seen, o.blobID)
		if len(seen) == 1 {
			putObject(t, b, "bk", "k", []byte("v2")) // removes blob seen[0]
		}
		f, err := os.Open(st.blobPath(o.blobID))
		if err == nil {
			f.Close()
		}
		return err
	})
	check(t, err)
	if len(seen) != 2 || seen[0] == seen[1] || o.blobID != seen[1] || o.info.Size != 2 {
		t.Errorf("blobs tried %q, ended with %+v", seen, o)
	}

	check(t, os.Remove(st.blobPath(o.blobID)))
	_, _, err = getObject(t, b, "bk", "k", nil)
	wantCode(t, err, storage.CodeInternal, "data file", "missing")

	putObject(t, b, "bk", "torn", []byte("whole"))
	o, err = readObject(ctx, st.db, "bk", "torn")
	check(t, err)
	check(t, os.Truncate(st.blobPath(o.blobID), 2))
	_, _, err = getObject(t, b, "bk", "torn", nil)
	wantCode(t, err, storage.CodeInternal, "holds 2 bytes, not 5")
}
