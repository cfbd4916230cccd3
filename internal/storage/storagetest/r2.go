package storagetest

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// emptyMD5 is the ETag of an empty object.
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

func (s *suite) r2Buckets(t *testing.T) {
	s.test(t, "CreateGetListDelete", func(t *testing.T, st *storage.Store) {
		r2, ctx := st.R2(), t.Context()
		name := bucketName(t, "crud")
		before := time.Now()
		b, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: name, LocationHint: "weur", StorageClass: "InfrequentAccess"})
		after := time.Now()
		must(t, err, "CreateBucket")
		check := func(what string, b storage.Bucket) {
			t.Helper()
			if b.Name != name {
				t.Errorf("%s: name %q, want %q", what, b.Name, name)
			}
			wantTimeNear(t, what+": creation date", b.CreationDate, before.Truncate(time.Second), after)
			// Cloudflare reports the location in either case ("weur", "WEUR").
			if !strings.EqualFold(b.Location, "weur") {
				t.Errorf("%s: location %q, want the hint weur", what, b.Location)
			}
			if b.StorageClass != "InfrequentAccess" {
				t.Errorf("%s: storage class %q, want InfrequentAccess", what, b.StorageClass)
			}
		}
		check("CreateBucket", b)
		got, err := r2.GetBucket(ctx, name)
		must(t, err, "GetBucket")
		check("GetBucket", got)
		listed := listBuckets(t, st, storage.ListOptions{})
		i := slices.IndexFunc(listed, func(b storage.Bucket) bool { return b.Name == name })
		if i < 0 {
			t.Fatalf("ListBuckets = %q, want it to show %s", bucketNames(listed), name)
		}
		check("ListBuckets", listed[i])

		must(t, r2.DeleteBucket(ctx, name), "DeleteBucket")
		_, err = r2.GetBucket(ctx, name)
		wantNotFound(t, err)
		if slices.Contains(bucketNames(listBuckets(t, st, storage.ListOptions{})), name) {
			t.Errorf("ListBuckets still shows the deleted bucket %s", name)
		}
		wantNotFound(t, r2.DeleteBucket(ctx, name))
	})

	s.test(t, "Defaults", func(t *testing.T, st *storage.Store) {
		name := mustCreateBucket(t, st, "defaults")
		b, err := st.R2().GetBucket(t.Context(), name)
		must(t, err, "GetBucket")
		// Cloudflare's default storage class, reported as such.
		if b.StorageClass != "Standard" {
			t.Errorf("storage class of a bucket created without one = %q, want Standard", b.StorageClass)
		}
		if b.CreationDate.IsZero() {
			t.Error("no creation date")
		}
	})

	s.test(t, "Duplicate", func(t *testing.T, st *storage.Store) {
		name := mustCreateBucket(t, st, "dup")
		mustPutObject(t, st, name, "keep", []byte("kept"))
		_, err := st.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: name, StorageClass: "InfrequentAccess"})
		wantErr(t, err, storage.CodeAlreadyExists, "")
		wantObject(t, st, name, "keep", []byte("kept"))
		n := 0
		for _, b := range listBuckets(t, st, storage.ListOptions{}) {
			if b.Name == name {
				n++
				if b.StorageClass == "InfrequentAccess" {
					t.Errorf("a refused create changed the storage class of %s", name)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d buckets named %s, want 1", n, name)
		}
	})

	s.test(t, "ListPrefixPaging", func(t *testing.T, st *storage.Store) {
		common := bucketName(t, "lp")
		var want []string
		for i := range 5 {
			name := fmt.Sprintf("%s-%d", common, i)
			_, err := st.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: name})
			must(t, err, "CreateBucket "+name)
			want = append(want, name)
		}
		others := []string{mustCreateBucket(t, st, "other"), "x" + common[1:]}
		_, err := st.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: others[1]})
		must(t, err, "CreateBucket "+others[1])

		for _, limit := range []int{1, 2, 1000} {
			got := bucketNames(listBuckets(t, st, storage.ListOptions{Prefix: common, Limit: limit}))
			wantStrings(t, fmt.Sprintf("ListBuckets prefix %s limit %d", common, limit), got, want)
		}
		all := bucketNames(listBuckets(t, st, storage.ListOptions{Limit: 2}))
		if !isStrictlySorted(all) {
			t.Errorf("ListBuckets = %q, want each once in name order", all)
		}
		for _, name := range append(slices.Clone(want), others...) {
			if !slices.Contains(all, name) {
				t.Errorf("ListBuckets does not show %s", name)
			}
		}
		if got := listBuckets(t, st, storage.ListOptions{Prefix: common + "-9"}); len(got) != 0 {
			t.Errorf("ListBuckets with a prefix no bucket has = %q", bucketNames(got))
		}
	})

	s.test(t, "DeleteNonEmpty", func(t *testing.T, st *storage.Store) {
		r2, ctx := st.R2(), t.Context()
		name := mustCreateBucket(t, st, "nonempty")
		mustPutObject(t, st, name, "dir/obj", []byte("data"))
		wantErr(t, r2.DeleteBucket(ctx, name), storage.CodeConflict, "")
		wantObject(t, st, name, "dir/obj", []byte("data"))
		if _, err := r2.GetBucket(ctx, name); err != nil {
			t.Fatalf("GetBucket after a refused delete: %v", err)
		}
		_, err := r2.DeleteObjects(ctx, name, []string{"dir/obj"})
		must(t, err, "DeleteObjects")
		must(t, r2.DeleteBucket(ctx, name), "DeleteBucket of the emptied bucket")
		_, err = r2.GetBucket(ctx, name)
		wantNotFound(t, err)
	})

	s.test(t, "Unknown", func(t *testing.T, st *storage.Store) {
		r2, ctx := st.R2(), t.Context()
		name := bucketName(t, "unknown")
		real := mustCreateBucket(t, st, "real")
		mustPutObject(t, st, real, "k", []byte("v"))

		_, err := r2.GetBucket(ctx, name)
		wantNotFound(t, err)
		wantNotFound(t, r2.DeleteBucket(ctx, name))
		_, err = r2.ListObjects(ctx, name, storage.ObjectListOptions{})
		wantNotFound(t, err)
		_, err = r2.HeadObject(ctx, name, "k")
		wantNotFound(t, err)
		_, err = r2.GetObject(ctx, name, "k", nil)
		wantNotFound(t, err)
		_, err = r2.PutObject(ctx, objPut(name, "k", []byte("v")))
		wantNotFound(t, err)
		_, err = r2.DeleteObjects(ctx, name, []string{"k"})
		wantNotFound(t, err)
		_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: name, Key: "k"}, storage.ObjectRef{Bucket: real, Key: "copy"})
		wantNotFound(t, err)
		_, err = r2.CopyObject(ctx, storage.ObjectRef{Bucket: real, Key: "k"}, storage.ObjectRef{Bucket: name, Key: "copy"})
		wantNotFound(t, err)

		wantStrings(t, "ListBuckets", bucketNames(listBuckets(t, st, storage.ListOptions{})), []string{real})
		wantStrings(t, "objects of "+real, listObjects(t, st, real, storage.ObjectListOptions{}).keys(), []string{"k"})
	})

	s.test(t, "Recreate", func(t *testing.T, st *storage.Store) {
		r2, ctx := st.R2(), t.Context()
		name := mustCreateBucket(t, st, "recreate")
		mustPutObject(t, st, name, "k", []byte("v"))
		_, err := r2.DeleteObjects(ctx, name, []string{"k"})
		must(t, err, "DeleteObjects")
		must(t, r2.DeleteBucket(ctx, name), "DeleteBucket")
		_, err = r2.CreateBucket(ctx, storage.BucketSpec{Name: name})
		must(t, err, "CreateBucket again")
		if l := listObjects(t, st, name, storage.ObjectListOptions{}); len(l.Objects) != 0 {
			t.Errorf("the recreated bucket holds %q", l.keys())
		}
		wantObjectMissing(t, st, name, "k")
	})
}

func (s *suite) r2Objects(t *testing.T) {
	s.test(t, "AllByteValues", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "bytes")
		data := make([]byte, 256)
		for i := range data {
			data[i] = byte(i)
		}
		info := mustPutObject(t, st, b, "all-bytes.bin", data)
		if info.ETag != md5Hex(data) {
			t.Errorf("PutObject ETag %q, want %q (hex MD5 of the content)", info.ETag, md5Hex(data))
		}
		wantObject(t, st, b, "all-bytes.bin", data)
	})

	s.test(t, "Empty", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "empty")
		info := mustPutObject(t, st, b, "empty", nil)
		if info.ETag != emptyMD5 {
			t.Errorf("PutObject ETag %q, want %q", info.ETag, emptyMD5)
		}
		obj := wantObject(t, st, b, "empty", []byte{})
		if obj.Length != 0 {
			t.Errorf("Length %d, want 0", obj.Length)
		}
		head, err := st.R2().HeadObject(t.Context(), b, "empty")
		must(t, err, "HeadObject")
		if head.Size != 0 || head.ETag != emptyMD5 {
			t.Errorf("HeadObject = size %d etag %q, want 0 and %q", head.Size, head.ETag, emptyMD5)
		}
	})

	s.test(t, "Streamed3MiB", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "streamed")
		const n = 3<<20 + 11
		want := patternDigest(t, n)
		info := mustPutObjectWith(t, st, storage.ObjectPut{Bucket: b, Key: "big.bin", Body: newPatternReader(n), Size: n})
		if info.ETag != want.MD5 {
			t.Errorf("PutObject ETag %q, want %q (single-part: hex MD5)", info.ETag, want.MD5)
		}
		obj, err := st.R2().GetObject(t.Context(), b, "big.bin", nil)
		must(t, err, "GetObject")
		got, err := digestOf(obj.Body)
		obj.Body.Close()
		must(t, err, "reading the object")
		if got != want {
			t.Errorf("object digest %+v, want %+v", got, want)
		}
		if obj.Length != n || obj.Info.Size != n || obj.Info.ETag != want.MD5 {
			t.Errorf("GetObject: Length %d Size %d ETag %q, want %d %d %q", obj.Length, obj.Info.Size, obj.Info.ETag, n, n, want.MD5)
		}
	})

	s.test(t, "ReaderAt", func(t *testing.T, st *storage.Store) {
		// A body that is an io.ReaderAt may be read in concurrent sections;
		// the stored bytes are the same.
		b := mustCreateBucket(t, st, "readerat")
		data := patternBytes(1<<20 + 3)
		info := mustPutObject(t, st, b, "obj", data)
		if info.ETag != md5Hex(data) {
			t.Errorf("PutObject ETag %q, want %q", info.ETag, md5Hex(data))
		}
		wantObject(t, st, b, "obj", data)
	})

	s.test(t, "ShortBody", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "short")
		_, err := st.R2().PutObject(t.Context(), storage.ObjectPut{Bucket: b, Key: "k", Body: strings.NewReader("12345"), Size: 10})
		if err == nil {
			t.Fatal("PutObject of a 5-byte body announced as 10 bytes succeeded")
		}
		wantObjectMissing(t, st, b, "k")
		if l := listObjects(t, st, b, storage.ObjectListOptions{}); len(l.Objects) != 0 {
			t.Errorf("a failed upload left %q", l.keys())
		}
	})

	s.test(t, "Progress", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "progress")
		const n = 2<<20 + 5
		var calls []int64
		mustPutObjectWith(t, st, storage.ObjectPut{
			Bucket: b, Key: "p", Body: newPatternReader(n), Size: n,
			Progress: func(sent int64) { calls = append(calls, sent) },
		})
		if len(calls) == 0 {
			t.Fatal("Progress was never called")
		}
		if !slices.IsSorted(calls) {
			t.Errorf("Progress went backwards: %v", calls)
		}
		if last := calls[len(calls)-1]; last != n {
			t.Errorf("last Progress = %d, want the full size %d", last, n)
		}
	})

	s.test(t, "Metadata", func(t *testing.T, st *storage.Store) {
		// Custom metadata travels as x-amz-meta-* headers on R2's S3 API:
		// names are case-insensitive there (so lower case here) and values
		// ASCII.
		b := mustCreateBucket(t, st, "metadata")
		httpMeta := storage.HTTPMetadata{
			ContentType:        "text/markdown; charset=utf-8",
			ContentLanguage:    "en-GB",
			ContentDisposition: `attachment; filename="notes.md"`,
			ContentEncoding:    "identity",
			CacheControl:       "max-age=3600, public",
		}
		custom := map[string]string{"author": "someone", "purpose": "storage test", "n": "42", "dashed-name": "a b  c"}
		data := []byte("# notes\n")
		before := time.Now()
		p := objPut(b, "notes.md", data)
		p.HTTP = httpMeta
		p.CustomMetadata = custom
		mustPutObjectWith(t, st, p)
		after := time.Now()

		check := func(what string, info storage.ObjectInfo) {
			t.Helper()
			if info.HTTP != httpMeta {
				t.Errorf("%s: HTTP metadata %+v, want %+v", what, info.HTTP, httpMeta)
			}
			if !maps.Equal(info.CustomMetadata, custom) {
				t.Errorf("%s: custom metadata %v, want %v", what, info.CustomMetadata, custom)
			}
			if info.Size != int64(len(data)) || info.ETag != md5Hex(data) {
				t.Errorf("%s: size %d etag %q, want %d %q", what, info.Size, info.ETag, len(data), md5Hex(data))
			}
			// S3 reports upload times in whole seconds.
			wantTimeNear(t, what+": uploaded", info.Uploaded, before.Truncate(time.Second), after)
		}
		head, err := st.R2().HeadObject(t.Context(), b, "notes.md")
		must(t, err, "HeadObject")
		check("HeadObject", head)
		obj := wantObject(t, st, b, "notes.md", data)
		check("GetObject", obj.Info)

		mustPutObject(t, st, b, "plain", []byte("x"))
		head, err = st.R2().HeadObject(t.Context(), b, "plain")
		must(t, err, "HeadObject plain")
		if len(head.CustomMetadata) != 0 {
			t.Errorf("custom metadata of an object written without any: %v", head.CustomMetadata)
		}
	})

	s.test(t, "Ranges", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "ranges")
		data := patternBytes(100)
		mustPutObject(t, st, b, "r", data)
		cases := []struct {
			rng        storage.ByteRange
			start, end int // of data, end exclusive
		}{
			{storage.ByteRange{Start: 0, End: 0}, 0, 1},
			{storage.ByteRange{Start: 10, End: 19}, 10, 20},
			{storage.ByteRange{Start: 0, End: 99}, 0, 100},
			{storage.ByteRange{Start: 99, End: 99}, 99, 100},
			{storage.ByteRange{Start: 90, End: -1}, 90, 100},
			{storage.ByteRange{Start: 0, End: -1}, 0, 100},
			// An end past the object is cut at the object's end, as in HTTP.
			{storage.ByteRange{Start: 95, End: 1000}, 95, 100},
		}
		for _, c := range cases {
			rng := c.rng
			got, obj := mustGetObject(t, st, b, "r", &rng)
			if !bytes.Equal(got, data[c.start:c.end]) {
				t.Errorf("range %+v = %x, want %x", c.rng, got, data[c.start:c.end])
			}
			if obj.Length != int64(c.end-c.start) {
				t.Errorf("range %+v: Length %d, want %d", c.rng, obj.Length, c.end-c.start)
			}
			if obj.Info.Size != 100 {
				t.Errorf("range %+v: Info.Size %d, want the whole size 100", c.rng, obj.Info.Size)
			}
		}
	})

	s.test(t, "RangeNotSatisfiable", func(t *testing.T, st *storage.Store) {
		// A range that starts at or past the end is HTTP's 416: the
		// caller's mistake, not the server's.
		b := mustCreateBucket(t, st, "range416")
		mustPutObject(t, st, b, "r", patternBytes(100))
		for _, rng := range []storage.ByteRange{{Start: 100, End: -1}, {Start: 150, End: 200}} {
			obj, err := st.R2().GetObject(t.Context(), b, "r", &rng)
			if err == nil {
				obj.Body.Close()
				t.Errorf("range %+v of a 100-byte object: no error", rng)
				continue
			}
			wantErr(t, err, storage.CodeInvalidArgument, "")
		}
	})

	s.test(t, "Overwrite", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "overwrite")
		p := objPut(b, "k", []byte("the first version, longer"))
		p.HTTP.ContentType = "text/plain"
		p.CustomMetadata = map[string]string{"version": "1"}
		mustPutObjectWith(t, st, p)
		p = objPut(b, "k", []byte("second"))
		p.HTTP.CacheControl = "no-store"
		mustPutObjectWith(t, st, p)
		obj := wantObject(t, st, b, "k", []byte("second"))
		if len(obj.Info.CustomMetadata) != 0 {
			t.Errorf("custom metadata survived an overwrite: %v", obj.Info.CustomMetadata)
		}
		if obj.Info.HTTP.CacheControl != "no-store" || obj.Info.HTTP.ContentType == "text/plain" {
			t.Errorf("HTTP metadata after overwrite = %+v, want the second write's", obj.Info.HTTP)
		}
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{"k"})
	})

	s.test(t, "Keys", func(t *testing.T, st *storage.Store) {
		// Object keys travel in URL paths (S3 and REST): each must come
		// back as the same key, and "../x" must not escape anywhere.
		b := mustCreateBucket(t, st, "keys")
		keys := []string{
			"a/b/c.txt", "q?x=1", "frag#1", "100%", "%2F", "%", "with space", "日本語/ファイル.txt", "../x", "../../etc/passwd",
			"./y", "a//b", "/abs", "trail/", "plus+sign", "amp&eq=", "back\\slash", "tilde~", "emoji 😀",
			"semi;colon", "quote\"s", strings.Repeat("k", storage.MaxObjectKeyBytes),
		}
		for i, k := range keys {
			mustPutObject(t, st, b, k, []byte(fmt.Sprintf("object %d", i)))
		}
		for i, k := range keys {
			wantObject(t, st, b, k, []byte(fmt.Sprintf("object %d", i)))
			head, err := st.R2().HeadObject(t.Context(), b, k)
			must(t, err, "HeadObject "+k)
			if head.Key != k {
				t.Errorf("HeadObject %q returned key %q", k, head.Key)
			}
		}
		want := slices.Clone(keys)
		sort.Strings(want)
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), want)
		for _, k := range keys {
			l := listObjects(t, st, b, storage.ObjectListOptions{Prefix: k})
			if len(l.Objects) == 0 || l.Objects[0].Key != k {
				t.Errorf("ListObjects prefix %q = %q, want %q first", k, l.keys(), k)
			}
		}
		res, err := st.R2().DeleteObjects(t.Context(), b, keys)
		must(t, err, "DeleteObjects")
		if len(res.Errors) != 0 {
			t.Errorf("DeleteObjects errors: %+v", res.Errors)
		}
		if l := listObjects(t, st, b, storage.ObjectListOptions{}); len(l.Objects) != 0 {
			t.Errorf("after deleting every key: %q", l.keys())
		}
	})

	s.test(t, "Missing", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "missing")
		mustPutObject(t, st, b, "present", []byte("v"))
		for _, k := range []string{"absent", "presen", "present/", "Present"} {
			wantObjectMissing(t, st, b, k)
		}
		rng := storage.ByteRange{Start: 0, End: 1}
		_, err := st.R2().GetObject(t.Context(), b, "absent", &rng)
		wantNotFound(t, err)
	})

	s.test(t, "Isolation", func(t *testing.T, st *storage.Store) {
		a := mustCreateBucket(t, st, "iso-a")
		c := mustCreateBucket(t, st, "iso-b")
		mustPutObject(t, st, a, "k", []byte("in a"))
		wantObjectMissing(t, st, c, "k")
		mustPutObject(t, st, c, "k", []byte("in b"))
		wantObject(t, st, a, "k", []byte("in a"))
		_, err := st.R2().DeleteObjects(t.Context(), c, []string{"k"})
		must(t, err, "DeleteObjects")
		wantObject(t, st, a, "k", []byte("in a"))
	})

	s.test(t, "Presign", func(t *testing.T, st *storage.Store) {
		// A backend either presigns (Cloudflare) or says it cannot,
		// naming the backend that can.
		b := mustCreateBucket(t, st, "presign")
		mustPutObject(t, st, b, "k", []byte("v"))
		for _, method := range []string{"GET", "PUT"} {
			before := time.Now()
			u, err := st.R2().Presign(t.Context(), storage.PresignRequest{Bucket: b, Key: "k", Method: method, Expires: 15 * time.Minute})
			after := time.Now()
			if err != nil {
				wantErr(t, err, storage.CodeUnsupported, "")
				if !strings.Contains(strings.ToLower(err.Error()), "cloudflare") {
					t.Errorf("unsupported presign %q does not name the cloudflare backend", err)
				}
				continue
			}
			parsed, perr := url.Parse(u.URL)
			if perr != nil || (parsed.Scheme != "https" && parsed.Scheme != "http") || parsed.Host == "" {
				t.Errorf("%s presign URL %q is not an absolute http(s) URL", method, u.URL)
			}
			wantTimeNear(t, method+" ExpiresAt", u.ExpiresAt, before.Add(15*time.Minute).Truncate(time.Second), after.Add(15*time.Minute))
		}
	})
}

func (s *suite) r2List(t *testing.T) {
	tree := []string{"a.txt", "b/1", "b/2", "b/c/3", "c/1", "d/", "d/x", "e.txt", "f/g/h", "z"}
	putTree := func(t *testing.T, st *storage.Store, hint string) string {
		t.Helper()
		b := mustCreateBucket(t, st, hint)
		for _, k := range tree {
			mustPutObject(t, st, b, k, []byte("content of "+k))
		}
		return b
	}

	s.test(t, "Delimiter", func(t *testing.T, st *storage.Store) {
		b := putTree(t, st, "delim")
		cases := []struct {
			prefix   string
			objects  []string
			prefixes []string
		}{
			{"", []string{"a.txt", "e.txt", "z"}, []string{"b/", "c/", "d/", "f/"}},
			{"b/", []string{"b/1", "b/2"}, []string{"b/c/"}},
			{"b", nil, []string{"b/"}},
			{"d/", []string{"d/", "d/x"}, nil},
			{"f/", nil, []string{"f/g/"}},
			{"f/g/", []string{"f/g/h"}, nil},
			{"a", []string{"a.txt"}, nil},
			{"nothing/", nil, nil},
		}
		for _, c := range cases {
			for _, limit := range []int{1, 2, 3, 1000} {
				l := listObjects(t, st, b, storage.ObjectListOptions{Prefix: c.prefix, Delimiter: "/", Limit: limit})
				what := fmt.Sprintf("prefix %q delimiter / limit %d", c.prefix, limit)
				wantStrings(t, what+": objects", l.keys(), c.objects)
				wantStrings(t, what+": prefixes", l.Prefixes, c.prefixes)
			}
		}
	})

	s.test(t, "DelimiterManyFolders", func(t *testing.T, st *storage.Store) {
		// Folders whose contents straddle page boundaries are each rolled
		// up once, whatever the page size.
		b := mustCreateBucket(t, st, "folders")
		var wantPrefixes, wantObjects []string
		for i := range 12 {
			dir := fmt.Sprintf("dir%02d/", i)
			wantPrefixes = append(wantPrefixes, dir)
			for j := range 3 {
				mustPutObject(t, st, b, fmt.Sprintf("%sfile%d", dir, j), []byte("x"))
			}
			if i%4 == 0 {
				k := fmt.Sprintf("dir%02d.txt", i)
				mustPutObject(t, st, b, k, []byte("y"))
				wantObjects = append(wantObjects, k)
			}
		}
		for _, limit := range []int{1, 2, 3, 4, 5, 7, 1000} {
			l := listObjects(t, st, b, storage.ObjectListOptions{Delimiter: "/", Limit: limit})
			wantStrings(t, fmt.Sprintf("limit %d: prefixes", limit), l.Prefixes, wantPrefixes)
			wantStrings(t, fmt.Sprintf("limit %d: objects", limit), l.keys(), wantObjects)
		}
	})

	s.test(t, "Flat", func(t *testing.T, st *storage.Store) {
		b := putTree(t, st, "flat")
		for _, limit := range []int{1, 3, 1000} {
			l := listObjects(t, st, b, storage.ObjectListOptions{Limit: limit})
			wantStrings(t, fmt.Sprintf("flat limit %d: objects", limit), l.keys(), tree)
			if len(l.Prefixes) != 0 {
				t.Errorf("flat limit %d: prefixes %q, want none", limit, l.Prefixes)
			}
		}
		l := listObjects(t, st, b, storage.ObjectListOptions{Prefix: "b/", Limit: 2})
		wantStrings(t, "flat prefix b/", l.keys(), []string{"b/1", "b/2", "b/c/3"})
		if len(l.Prefixes) != 0 {
			t.Errorf("flat prefix b/: prefixes %q, want none", l.Prefixes)
		}
	})

	s.test(t, "Prefix", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "prefix")
		keys := []string{"p%1", "pa1", "p_1", "pb1", "p\\1", "p[1", "p*1", "Pcap", "pé", "q"}
		for _, k := range keys {
			mustPutObject(t, st, b, k, []byte(k))
		}
		cases := map[string][]string{
			"p%":  {"p%1"},
			"p_":  {"p_1"},
			"p\\": {"p\\1"},
			"p[":  {"p[1"},
			"p*":  {"p*1"},
			"P":   {"Pcap"},
			"p":   {"p%1", "p*1", "p[1", "p\\1", "p_1", "pa1", "pb1", "pé"},
		}
		for prefix, want := range cases {
			wantStrings(t, fmt.Sprintf("prefix %q", prefix), listObjects(t, st, b, storage.ObjectListOptions{Prefix: prefix}).keys(), want)
		}
	})

	s.test(t, "Order", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "order")
		keys := []string{"a", "a/b", "a\x7f", "b", "é", "Z", "10", "9", "A", "a-b", "~", "\uff5a", "😀"}
		for _, k := range keys {
			mustPutObject(t, st, b, k, []byte(k))
		}
		want := []string{"10", "9", "A", "Z", "a", "a-b", "a/b", "a\x7f", "b", "~", "é", "\uff5a", "😀"}
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{Limit: 4}).keys(), want)
	})

	s.test(t, "Info", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "info")
		data := []byte("seventeen bytes!!")
		before := time.Now()
		mustPutObject(t, st, b, "x/obj", data)
		after := time.Now()
		l := listObjects(t, st, b, storage.ObjectListOptions{})
		if len(l.Objects) != 1 {
			t.Fatalf("ListObjects = %q, want [x/obj]", l.keys())
		}
		o := l.Objects[0]
		if o.Key != "x/obj" || o.Size != int64(len(data)) || o.ETag != md5Hex(data) {
			t.Errorf("listed %+v, want key x/obj size %d etag %s", o, len(data), md5Hex(data))
		}
		wantTimeNear(t, "listed upload time", o.Uploaded, before.Truncate(time.Second), after)
	})

	s.test(t, "Empty", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "list-empty")
		for _, delim := range []string{"", "/"} {
			page, err := st.R2().ListObjects(t.Context(), b, storage.ObjectListOptions{Delimiter: delim})
			must(t, err, "ListObjects")
			if len(page.Objects) != 0 || len(page.Prefixes) != 0 || page.Cursor != "" {
				t.Errorf("ListObjects of an empty bucket (delimiter %q) = %+v", delim, page)
			}
		}
	})

	s.test(t, "DefaultLimit", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "default-limit")
		n := storage.DefaultObjectList + 5
		for i := range n {
			mustPutObject(t, st, b, fmt.Sprintf("o%04d", i), nil)
		}
		page, err := st.R2().ListObjects(t.Context(), b, storage.ObjectListOptions{})
		must(t, err, "ListObjects")
		if len(page.Objects) == 0 || len(page.Objects) > storage.DefaultObjectList || page.Cursor == "" {
			t.Errorf("ListObjects with limit 0 of %d objects: %d objects, cursor %q; want at most the default of %d and a cursor",
				n, len(page.Objects), page.Cursor, storage.DefaultObjectList)
		}
		if l := listObjects(t, st, b, storage.ObjectListOptions{}); len(l.Objects) != n {
			t.Errorf("listed %d objects in all, want %d", len(l.Objects), n)
		}
	})
}

func (s *suite) r2Copy(t *testing.T) {
	source := func(t *testing.T, st *storage.Store, b string) ([]byte, storage.ObjectPut) {
		t.Helper()
		data := patternBytes(4096 + 17)
		p := objPut(b, "src/orig.bin", data)
		p.HTTP = storage.HTTPMetadata{ContentType: "application/x-test", CacheControl: "no-cache", ContentDisposition: "inline"}
		p.CustomMetadata = map[string]string{"origin": "copy-test", "n": "1"}
		mustPutObjectWith(t, st, p)
		return data, p
	}
	wantCopy := func(t *testing.T, st *storage.Store, dst storage.ObjectRef, data []byte, p storage.ObjectPut) {
		t.Helper()
		obj := wantObject(t, st, dst.Bucket, dst.Key, data)
		if obj.Info.HTTP != p.HTTP {
			t.Errorf("copy's HTTP metadata %+v, want %+v", obj.Info.HTTP, p.HTTP)
		}
		if !maps.Equal(obj.Info.CustomMetadata, p.CustomMetadata) {
			t.Errorf("copy's custom metadata %v, want %v", obj.Info.CustomMetadata, p.CustomMetadata)
		}
	}

	s.test(t, "SameBucket", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "copy")
		data, p := source(t, st, b)
		dst := storage.ObjectRef{Bucket: b, Key: "dst/copy.bin"}
		info, err := st.R2().CopyObject(t.Context(), storage.ObjectRef{Bucket: b, Key: p.Key}, dst)
		must(t, err, "CopyObject")
		if info.Key != dst.Key || info.Size != int64(len(data)) || info.ETag != md5Hex(data) {
			t.Errorf("CopyObject = key %q size %d etag %q, want %q %d %q", info.Key, info.Size, info.ETag, dst.Key, len(data), md5Hex(data))
		}
		wantCopy(t, st, dst, data, p)
		wantCopy(t, st, storage.ObjectRef{Bucket: b, Key: p.Key}, data, p)
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{"dst/copy.bin", "src/orig.bin"})
	})

	s.test(t, "CrossBucket", func(t *testing.T, st *storage.Store) {
		a := mustCreateBucket(t, st, "copy-from")
		c := mustCreateBucket(t, st, "copy-to")
		data, p := source(t, st, a)
		dst := storage.ObjectRef{Bucket: c, Key: "../weird key?#"}
		_, err := st.R2().CopyObject(t.Context(), storage.ObjectRef{Bucket: a, Key: p.Key}, dst)
		must(t, err, "CopyObject")
		wantCopy(t, st, dst, data, p)
		wantStrings(t, "objects of the source bucket", listObjects(t, st, a, storage.ObjectListOptions{}).keys(), []string{p.Key})
	})

	s.test(t, "Overwrite", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "copy-over")
		data, p := source(t, st, b)
		dst := storage.ObjectRef{Bucket: b, Key: "existing"}
		old := objPut(b, dst.Key, []byte("old content that is replaced"))
		old.CustomMetadata = map[string]string{"stale": "yes"}
		mustPutObjectWith(t, st, old)
		_, err := st.R2().CopyObject(t.Context(), storage.ObjectRef{Bucket: b, Key: p.Key}, dst)
		must(t, err, "CopyObject")
		wantCopy(t, st, dst, data, p)
	})

	s.test(t, "MissingSource", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "copy-missing")
		_, err := st.R2().CopyObject(t.Context(), storage.ObjectRef{Bucket: b, Key: "absent"}, storage.ObjectRef{Bucket: b, Key: "dst"})
		wantNotFound(t, err)
		wantObjectMissing(t, st, b, "dst")
	})
}

func (s *suite) r2Delete(t *testing.T) {
	s.test(t, "DeleteObjects", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "delete")
		for _, k := range []string{"a", "b", "c/d", "c/e", "keep"} {
			mustPutObject(t, st, b, k, []byte(k))
		}
		del := []string{"a", "absent", "c/d", "b", "c/"}
		res, err := st.R2().DeleteObjects(t.Context(), b, del)
		must(t, err, "DeleteObjects")
		// As in S3, an absent key counts as deleted.
		got := slices.Sorted(slices.Values(res.Deleted))
		want := slices.Sorted(slices.Values(del))
		wantStrings(t, "Deleted", got, want)
		if len(res.Errors) != 0 {
			t.Errorf("Errors = %+v, want none", res.Errors)
		}
		for _, k := range del {
			wantObjectMissing(t, st, b, k)
		}
		wantObject(t, st, b, "keep", []byte("keep"))
		wantObject(t, st, b, "c/e", []byte("c/e"))
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{"c/e", "keep"})
	})

	s.test(t, "AllAbsent", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "delete-absent")
		mustPutObject(t, st, b, "keep", []byte("k"))
		res, err := st.R2().DeleteObjects(t.Context(), b, []string{"x", "y"})
		must(t, err, "DeleteObjects")
		wantStrings(t, "Deleted", slices.Sorted(slices.Values(res.Deleted)), []string{"x", "y"})
		if len(res.Errors) != 0 {
			t.Errorf("Errors = %+v, want none", res.Errors)
		}
		wantObject(t, st, b, "keep", []byte("k"))
	})

	s.test(t, "Twice", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "delete-twice")
		mustPutObject(t, st, b, "k", []byte("v"))
		for i := range 2 {
			res, err := st.R2().DeleteObjects(t.Context(), b, []string{"k"})
			must(t, err, "DeleteObjects")
			wantStrings(t, fmt.Sprintf("Deleted (call %d)", i+1), res.Deleted, []string{"k"})
		}
		wantObjectMissing(t, st, b, "k")
		// The deleted key can be written again.
		mustPutObject(t, st, b, "k", []byte("again"))
		wantObject(t, st, b, "k", []byte("again"))
	})
}
