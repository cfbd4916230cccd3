package storagetest

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// maxPages bounds every paging loop, so a backend whose cursor never ends
// fails the test instead of hanging it.
const maxPages = 10_000

// clockSlack is how far a backend's clock and ours may disagree when the
// suite checks a time a backend computed (an expiration from a TTL, an
// upload time). Cloudflare reports times in whole seconds.
const clockSlack = 5 * time.Second

// ---- names ----

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, (n+1)/2)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)[:n]
}

var notBucketChar = regexp.MustCompile(`[^a-z0-9]+`)

// bucketName returns a bucket name unique to this run: "st-<hint>-<random>",
// at most 63 characters and valid for R2.
func bucketName(t *testing.T, hint string) string {
	t.Helper()
	hint = strings.Trim(notBucketChar.ReplaceAllString(strings.ToLower(hint), "-"), "-")
	if len(hint) > 40 {
		hint = strings.Trim(hint[:40], "-")
	}
	if hint == "" {
		hint = "b"
	}
	return "st-" + hint + "-" + randomHex(t, 10)
}

// nsTitle returns a namespace title unique to this run.
func nsTitle(t *testing.T, hint string) string {
	t.Helper()
	return "storagetest " + hint + " " + randomHex(t, 12)
}

// ---- errors ----

var sentinels = map[storage.Code]error{
	storage.CodeInvalidArgument:  storage.ErrInvalidArgument,
	storage.CodeNotFound:         storage.ErrNotFound,
	storage.CodeAlreadyExists:    storage.ErrAlreadyExists,
	storage.CodeConflict:         storage.ErrConflict,
	storage.CodeTooLarge:         storage.ErrTooLarge,
	storage.CodePermissionDenied: storage.ErrPermissionDenied,
	storage.CodeReadOnly:         storage.ErrReadOnly,
	storage.CodeUnsupported:      storage.ErrUnsupported,
	storage.CodeRateLimited:      storage.ErrRateLimited,
	storage.CodeUnavailable:      storage.ErrUnavailable,
	storage.CodeInternal:         storage.ErrInternal,
}

// wantErr asserts that err carries code, matches the code's sentinel with
// errors.Is, reads "<code>: <field>...", and names every number in numbers as
// a whole number. field "" skips the field check.
func wantErr(t *testing.T, err error, code storage.Code, field string, numbers ...int64) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := storage.CodeOf(err); got != code {
		t.Fatalf("got %s error %q, want %s", got, err, code)
	}
	if !errors.Is(err, sentinels[code]) {
		t.Errorf("errors.Is(%q, Err%s) is false", err, code)
	}
	msg, ok := strings.CutPrefix(err.Error(), string(code)+": ")
	if !ok {
		t.Errorf("error %q does not start with %q", err, string(code)+": ")
	}
	if field != "" && !strings.HasPrefix(msg, field) {
		t.Errorf("error %q does not name the field %q first", err, field)
	}
	for _, n := range numbers {
		if !containsNumber(msg, n) {
			t.Errorf("error %q does not name the limit %d", err, n)
		}
	}
}

// containsNumber reports whether n occurs in s as a whole number, so that
// 1024 is not found in "10240".
func containsNumber(s string, n int64) bool {
	re := regexp.MustCompile(`(^|[^0-9])` + strconv.FormatInt(n, 10) + `([^0-9]|$)`)
	return re.MatchString(s)
}

func wantNotFound(t *testing.T, err error) {
	t.Helper()
	wantErr(t, err, storage.CodeNotFound, "")
}

func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// ---- byte sources ----

// patternByte is byte i of the deterministic, non-repeating test pattern.
func patternByte(i int64) byte {
	x := uint64(i) * 0x9E3779B97F4A7C15
	return byte(x>>56) ^ byte(i)
}

// patternReader yields the first n bytes of the pattern without holding
// them: a plain io.Reader, not an io.ReaderAt or io.Seeker, so a backend
// cannot take a shortcut around streaming.
type patternReader struct {
	off, n int64
}

func newPatternReader(n int64) *patternReader { return &patternReader{n: n} }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rem := r.n - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = patternByte(r.off + int64(i))
	}
	r.off += int64(len(p))
	return len(p), nil
}

func patternBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = patternByte(int64(i))
	}
	return b
}

// digest is a streamed summary of some bytes.
type digest struct {
	Size   int64
	SHA256 string
	MD5    string
}

func digestOf(r io.Reader) (digest, error) {
	s, m := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(s, m), r)
	return digest{Size: n, SHA256: hex.EncodeToString(s.Sum(nil)), MD5: hex.EncodeToString(m.Sum(nil))}, err
}

func patternDigest(t *testing.T, n int64) digest {
	t.Helper()
	d, err := digestOf(newPatternReader(n))
	must(t, err, "digest of the pattern")
	return d
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// countingReader holds a few bytes and counts how many were read, to prove
// that a rejected call read nothing.
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func newCountingReader() *countingReader {
	return &countingReader{r: strings.NewReader("sixteen bytes!!!")}
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// ---- KV helpers ----

func mustCreateNS(t *testing.T, st *storage.Store, hint string) storage.Namespace {
	t.Helper()
	title := nsTitle(t, hint)
	ns, err := st.KV().CreateNamespace(t.Context(), title)
	must(t, err, "CreateNamespace "+title)
	if ns.Title != title {
		t.Fatalf("CreateNamespace(%q) returned title %q", title, ns.Title)
	}
	if !storage.IsNamespaceID(ns.ID) {
		t.Fatalf("CreateNamespace returned id %q, want 32 hex digits like Cloudflare's", ns.ID)
	}
	return ns
}

func kvPut(key string, value []byte) storage.KVPut {
	return storage.KVPut{Key: key, Body: bytes.NewReader(value), Size: int64(len(value))}
}

func mustPutKV(t *testing.T, st *storage.Store, ns, key string, value []byte) {
	t.Helper()
	mustPutKVWith(t, st, ns, kvPut(key, value))
}

func mustPutKVWith(t *testing.T, st *storage.Store, ns string, p storage.KVPut) {
	t.Helper()
	must(t, st.KV().Put(t.Context(), ns, p), fmt.Sprintf("Put %q", p.Key))
}

// mustGetKV reads a value whole; the returned KVValue has its Body closed.
func mustGetKV(t *testing.T, st *storage.Store, ns, key string) ([]byte, *storage.KVValue) {
	t.Helper()
	v, err := st.KV().Get(t.Context(), ns, key)
	must(t, err, fmt.Sprintf("Get %q", key))
	if v == nil || v.Body == nil {
		t.Fatalf("Get %q returned no body", key)
	}
	b, err := io.ReadAll(v.Body)
	if cerr := v.Body.Close(); err == nil {
		err = cerr
	}
	must(t, err, fmt.Sprintf("reading the value of %q", key))
	if v.Key != key {
		t.Errorf("Get %q returned Key %q", key, v.Key)
	}
	if v.Size != int64(len(b)) {
		t.Errorf("Get %q: Size %d, but the body has %d bytes", key, v.Size, len(b))
	}
	return b, v
}

func wantKVValue(t *testing.T, st *storage.Store, ns, key string, want []byte) *storage.KVValue {
	t.Helper()
	got, v := mustGetKV(t, st, ns, key)
	if !bytes.Equal(got, want) {
		t.Errorf("value of %q = %s, want %s", key, abbrev(got), abbrev(want))
	}
	return v
}

func wantKVMissing(t *testing.T, st *storage.Store, ns, key string) {
	t.Helper()
	v, err := st.KV().Get(t.Context(), ns, key)
	if err == nil {
		v.Body.Close()
		t.Fatalf("Get %q found a value, want not_found", key)
	}
	wantNotFound(t, err)
}

// listKeys pages through a namespace and checks the paging contract: every
// page within the limit, cursors until the last page, no key twice, byte
// order across pages.
func listKeys(t *testing.T, st *storage.Store, ns string, opts storage.ListOptions) []storage.KeyInfo {
	t.Helper()
	var all []storage.KeyInfo
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultKVListLimit
	}
	for range maxPages {
		page, err := st.KV().List(t.Context(), ns, opts)
		must(t, err, fmt.Sprintf("List %+v", opts))
		if len(page.Keys) > limit {
			t.Fatalf("List returned %d keys, over the limit of %d", len(page.Keys), limit)
		}
		all = append(all, page.Keys...)
		if page.Cursor == "" {
			checkKeyOrder(t, all)
			return all
		}
		if page.Cursor == opts.Cursor {
			t.Fatalf("List returned the cursor it was given (%q): it would never end", page.Cursor)
		}
		opts.Cursor = page.Cursor
	}
	t.Fatalf("List did not end after %d pages", maxPages)
	return nil
}

func checkKeyOrder(t *testing.T, keys []storage.KeyInfo) {
	t.Helper()
	for i := 1; i < len(keys); i++ {
		if keys[i-1].Name >= keys[i].Name {
			t.Fatalf("keys %q then %q: not in strictly increasing byte order (a key repeated or out of order)",
				keys[i-1].Name, keys[i].Name)
		}
	}
}

func keyNames(keys []storage.KeyInfo) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return names
}

// listNamespaces pages through every namespace the store shows.
func listNamespaces(t *testing.T, st *storage.Store, limit int) []storage.Namespace {
	t.Helper()
	var all []storage.Namespace
	opts := storage.ListOptions{Limit: limit}
	pageMax := limit
	if pageMax == 0 {
		pageMax = storage.DefaultNamespaceList
	}
	for range maxPages {
		page, err := st.KV().ListNamespaces(t.Context(), opts)
		must(t, err, "ListNamespaces")
		if len(page.Namespaces) > pageMax {
			t.Fatalf("ListNamespaces returned %d namespaces, over the limit of %d", len(page.Namespaces), pageMax)
		}
		all = append(all, page.Namespaces...)
		if page.Cursor == "" {
			return all
		}
		if page.Cursor == opts.Cursor {
			t.Fatalf("ListNamespaces returned the cursor it was given (%q)", page.Cursor)
		}
		opts.Cursor = page.Cursor
	}
	t.Fatalf("ListNamespaces did not end after %d pages", maxPages)
	return nil
}

// jsonEqual compares two JSON documents by value, since a backend may
// re-serialize metadata.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func wantMetadata(t *testing.T, what string, got, want json.RawMessage) {
	t.Helper()
	if want == nil {
		if len(got) != 0 {
			t.Errorf("%s: metadata %s, want none", what, got)
		}
		return
	}
	if !jsonEqual(got, want) {
		t.Errorf("%s: metadata %s, want %s", what, got, want)
	}
}

// wantExpirationNear checks an expiration computed from a TTL by the backend:
// between ttl after before and ttl after after, with clock slack.
func wantExpirationNear(t *testing.T, what string, got int64, before, after time.Time, ttl int64) {
	t.Helper()
	lo := before.Add(-clockSlack).Unix() + ttl
	hi := after.Add(clockSlack).Unix() + ttl
	if got < lo || got > hi {
		t.Errorf("%s: expiration %d, want now+%d (between %d and %d)", what, got, ttl, lo, hi)
	}
}

// ---- R2 helpers ----

func mustCreateBucket(t *testing.T, st *storage.Store, hint string) string {
	t.Helper()
	name := bucketName(t, hint)
	b, err := st.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: name})
	must(t, err, "CreateBucket "+name)
	if b.Name != name {
		t.Fatalf("CreateBucket(%q) returned name %q", name, b.Name)
	}
	return name
}

func objPut(bucket, key string, data []byte) storage.ObjectPut {
	return storage.ObjectPut{Bucket: bucket, Key: key, Body: bytes.NewReader(data), Size: int64(len(data))}
}

func mustPutObject(t *testing.T, st *storage.Store, bucket, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	return mustPutObjectWith(t, st, objPut(bucket, key, data))
}

func mustPutObjectWith(t *testing.T, st *storage.Store, p storage.ObjectPut) storage.ObjectInfo {
	t.Helper()
	info, err := st.R2().PutObject(t.Context(), p)
	must(t, err, fmt.Sprintf("PutObject %s/%q", p.Bucket, p.Key))
	if info.Key != p.Key {
		t.Errorf("PutObject %q returned Key %q", p.Key, info.Key)
	}
	if info.Size != p.Size {
		t.Errorf("PutObject %q returned Size %d, want %d", p.Key, info.Size, p.Size)
	}
	return info
}

// mustGetObject reads an object (or a range of it) whole; the returned
// Object has its Body closed.
func mustGetObject(t *testing.T, st *storage.Store, bucket, key string, rng *storage.ByteRange) ([]byte, *storage.Object) {
	t.Helper()
	obj, err := st.R2().GetObject(t.Context(), bucket, key, rng)
	must(t, err, fmt.Sprintf("GetObject %s/%q %v", bucket, key, rng))
	if obj == nil || obj.Body == nil {
		t.Fatalf("GetObject %q returned no body", key)
	}
	b, err := io.ReadAll(obj.Body)
	if cerr := obj.Body.Close(); err == nil {
		err = cerr
	}
	must(t, err, fmt.Sprintf("reading object %q", key))
	if obj.Length != int64(len(b)) {
		t.Errorf("GetObject %q %v: Length %d, but the body has %d bytes", key, rng, obj.Length, len(b))
	}
	if obj.Info.Key != key {
		t.Errorf("GetObject %q returned Info.Key %q", key, obj.Info.Key)
	}
	return b, obj
}

func wantObject(t *testing.T, st *storage.Store, bucket, key string, want []byte) *storage.Object {
	t.Helper()
	got, obj := mustGetObject(t, st, bucket, key, nil)
	if !bytes.Equal(got, want) {
		t.Errorf("object %q = %s, want %s", key, abbrev(got), abbrev(want))
	}
	if obj.Info.Size != int64(len(want)) {
		t.Errorf("object %q: Info.Size %d, want %d", key, obj.Info.Size, len(want))
	}
	if obj.Info.ETag != md5Hex(want) {
		t.Errorf("object %q: ETag %q, want %q (hex MD5 of the content)", key, obj.Info.ETag, md5Hex(want))
	}
	return obj
}

func wantObjectMissing(t *testing.T, st *storage.Store, bucket, key string) {
	t.Helper()
	_, err := st.R2().HeadObject(t.Context(), bucket, key)
	wantNotFound(t, err)
	obj, err := st.R2().GetObject(t.Context(), bucket, key, nil)
	if err == nil {
		obj.Body.Close()
		t.Fatalf("GetObject %q found an object, want not_found", key)
	}
	wantNotFound(t, err)
}

// objectListing is everything a paged bucket listing returned.
type objectListing struct {
	Objects  []storage.ObjectInfo
	Prefixes []string
	Pages    int
}

func (l objectListing) keys() []string {
	keys := make([]string, len(l.Objects))
	for i, o := range l.Objects {
		keys[i] = o.Key
	}
	return keys
}

// listObjects pages through a bucket listing and checks the paging
// contract: at most limit entries a page, objects and prefixes counted
// together as S3's MaxKeys does; each key and each prefix once, in byte order.
func listObjects(t *testing.T, st *storage.Store, bucket string, opts storage.ObjectListOptions) objectListing {
	t.Helper()
	var l objectListing
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultObjectList
	}
	for range maxPages {
		page, err := st.R2().ListObjects(t.Context(), bucket, opts)
		must(t, err, fmt.Sprintf("ListObjects %s %+v", bucket, opts))
		l.Pages++
		if n := len(page.Objects) + len(page.Prefixes); n > limit {
			t.Fatalf("ListObjects page has %d objects and %d prefixes, over the limit of %d",
				len(page.Objects), len(page.Prefixes), limit)
		}
		l.Objects = append(l.Objects, page.Objects...)
		l.Prefixes = append(l.Prefixes, page.Prefixes...)
		if page.Cursor == "" {
			if !isStrictlySorted(l.keys()) {
				t.Fatalf("ListObjects keys %q: not each once in byte order", l.keys())
			}
			if !isStrictlySorted(l.Prefixes) {
				t.Fatalf("ListObjects prefixes %q: not each once in byte order", l.Prefixes)
			}
			return l
		}
		if page.Cursor == opts.Cursor {
			t.Fatalf("ListObjects returned the cursor it was given (%q)", page.Cursor)
		}
		opts.Cursor = page.Cursor
	}
	t.Fatalf("ListObjects did not end after %d pages", maxPages)
	return l
}

// listBuckets pages through every bucket the store shows.
func listBuckets(t *testing.T, st *storage.Store, opts storage.ListOptions) []storage.Bucket {
	t.Helper()
	var all []storage.Bucket
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultBucketList
	}
	for range maxPages {
		page, err := st.R2().ListBuckets(t.Context(), opts)
		must(t, err, "ListBuckets")
		if len(page.Buckets) > limit {
			t.Fatalf("ListBuckets returned %d buckets, over the limit of %d", len(page.Buckets), limit)
		}
		all = append(all, page.Buckets...)
		if page.Cursor == "" {
			return all
		}
		if page.Cursor == opts.Cursor {
			t.Fatalf("ListBuckets returned the cursor it was given (%q)", page.Cursor)
		}
		opts.Cursor = page.Cursor
	}
	t.Fatalf("ListBuckets did not end after %d pages", maxPages)
	return nil
}

func bucketNames(bs []storage.Bucket) []string {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Name
	}
	return names
}

func isStrictlySorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

func wantStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// wantTimeNear checks a time the backend recorded against the window in
// which the suite made the call.
func wantTimeNear(t *testing.T, what string, got, before, after time.Time) {
	t.Helper()
	if got.Before(before.Add(-clockSlack)) || got.After(after.Add(clockSlack)) {
		t.Errorf("%s = %v, want between %v and %v", what, got, before, after)
	}
}

func abbrev(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q (%d bytes)", b, len(b))
	}
	return fmt.Sprintf("%q... (%d bytes, md5 %s)", b[:32], len(b), md5Hex(b))
}
