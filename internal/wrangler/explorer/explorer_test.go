package explorer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/explorer"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// The fixture Worker's dev ids (internal/wrangler/testdata/worker/wrangler.jsonc).
const (
	kvID     = "0f2ac74b498b48028cb68387c421e279"
	bucket   = "fixture-assets"
	database = "6f1d7c2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f"
)

// Keys that a path can get wrong: each must reach exactly this key.
var hardKeys = []string{"w/hello.txt", "q?x", "h#x", "p%x", "p%2Fx", "sp ace", "a+b", "ü/é.txt", "/lead", "trail/", "a//b"}

func startDev(t *testing.T) (*wranglertest.Dev, *explorer.Store) {
	t.Helper()
	dev := wranglertest.Start(t, wranglertest.CopyProject(t, "../testdata/worker"))
	s, err := explorer.Probe(context.Background(), dev.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return dev, s
}

// worker asks the fixture Worker, which reads through its own bindings.
func worker(t *testing.T, dev *wranglertest.Dev, method, path string, q url.Values, body []byte, h http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, dev.URL+path+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestKVKeysReachTheWorker: values written through the Local Explorer under
// keys with / ? # % + and spaces are what the Worker's KV binding reads under
// exactly those keys, with their metadata and expiration; and what the
// Worker writes, the explorer reads.
func TestKVKeysReachTheWorker(t *testing.T) {
	dev, s := startDev(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Unix()
	for i, key := range hardKeys {
		val := []byte{0, 1, 2, 0xff, byte(i)}
		meta := json.RawMessage(`{"i":` + strconv.Itoa(i) + `,"k":` + strconv.Quote(key) + `}`)
		if err := s.Put(ctx, kvID, storage.KVPut{Key: key, Body: bytes.NewReader(val), Size: int64(len(val)), Metadata: meta, Expiry: storage.Expiry{Expiration: exp}}); err != nil {
			t.Fatalf("Put %q: %v", key, err)
		}
		resp, body := worker(t, dev, http.MethodGet, "/kv", url.Values{"key": {key}}, nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, val) {
			t.Errorf("Worker reads %q: %d %x, want %x", key, resp.StatusCode, body, val)
		}
		if got := resp.Header.Get("x-metadata"); !jsonEq(got, string(meta)) {
			t.Errorf("Worker reads %q metadata %s, want %s", key, got, meta)
		}
		if got := resp.Header.Get("x-expiration"); got != strconv.FormatInt(exp, 10) {
			t.Errorf("Worker reads %q expiration %s, want %d", key, got, exp)
		}
		v, err := s.Get(ctx, kvID, key)
		if err != nil {
			t.Fatalf("Get %q: %v", key, err)
		}
		got, _ := io.ReadAll(v.Body)
		v.Body.Close()
		if !bytes.Equal(got, val) || v.Expiration != exp || !jsonEq(string(v.Metadata), string(meta)) {
			t.Errorf("Get %q = %x exp %d meta %s", key, got, v.Expiration, v.Metadata)
		}
	}
	// Without an expiration a value goes to its own endpoint: as the body,
	// or in a multipart body with its metadata.
	for _, tc := range []struct {
		key  string
		meta json.RawMessage
	}{{"plain/raw", nil}, {"plain/meta?#", json.RawMessage(`{"m":"é"}`)}} {
		val := []byte{0xfe, 0, 'x', '\r', '\n'}
		if err := s.Put(ctx, kvID, storage.KVPut{Key: tc.key, Body: bytes.NewReader(val), Size: int64(len(val)), Metadata: tc.meta}); err != nil {
			t.Fatalf("Put %q: %v", tc.key, err)
		}
		resp, body := worker(t, dev, http.MethodGet, "/kv", url.Values{"key": {tc.key}}, nil, nil)
		wantMeta := string(tc.meta)
		if wantMeta == "" {
			wantMeta = "null"
		}
		if !bytes.Equal(body, val) || !jsonEq(resp.Header.Get("x-metadata"), wantMeta) || resp.Header.Get("x-expiration") != "0" {
			t.Errorf("Worker reads %q as %x %v", tc.key, body, resp.Header)
		}
	}
	// A value too large for the bulk endpoint's string cannot carry an
	// expiration through the explorer: refused before anything is sent.
	big := int64(26214400/4*3 + 1)
	err := s.Put(ctx, kvID, storage.KVPut{Key: "big", Body: io.LimitReader(zeros{}, big), Size: big, Expiry: storage.Expiry{TTL: 3600}})
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "expiration") {
		t.Errorf("Put of a large value with a TTL: %v", err)
	}
	// The Worker writes; the explorer reads.
	worker(t, dev, http.MethodPut, "/kv", url.Values{"key": {"from/worker?#"}, "ttl": {"3600"}, "metadata": {`{"by":"worker"}`}}, []byte("hi"), nil)
	v, err := s.Get(ctx, kvID, "from/worker?#")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(v.Body)
	v.Body.Close()
	if string(got) != "hi" || !jsonEq(string(v.Metadata), `{"by":"worker"}`) || v.Expiration < time.Now().Unix()+3000 {
		t.Errorf("Get of the Worker's key = %q %s %d", got, v.Metadata, v.Expiration)
	}
	// Listing, deleting.
	page, err := s.List(ctx, kvID, storage.ListOptions{Prefix: "w/"})
	if err != nil || len(page.Keys) != 1 || page.Keys[0].Name != "w/hello.txt" {
		t.Errorf("List w/ = %+v, %v", page, err)
	}
	if err := s.Delete(ctx, kvID, "q?x"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := worker(t, dev, http.MethodGet, "/kv", url.Values{"key": {"q?x"}}, nil, nil); resp.StatusCode != 404 {
		t.Errorf("after Delete the Worker still reads q?x: %d", resp.StatusCode)
	}
	if _, err := s.Get(ctx, kvID, "q?x"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get of a deleted key: %v", err)
	}
	if n, err := s.BulkDelete(ctx, kvID, []string{"h#x", "p%x"}); err != nil || n != 2 {
		t.Errorf("BulkDelete = %d, %v", n, err)
	}
	items, err := s.BulkGet(ctx, kvID, []string{"h#x", "sp ace"}, storage.BulkGetOptions{})
	if err != nil || items[0].Found || !items[1].Found || !bytes.Equal(items[1].Value, []byte{0, 1, 2, 0xff, 5}) {
		t.Errorf("BulkGet = %+v, %v", items, err)
	}
}

// TestR2KeysReachTheWorker: objects written through the explorer are what
// the Worker's R2 binding reads under exactly those keys, with Content-Type
// and custom metadata (non-ASCII too); ranges are cut right; HTTP metadata
// the explorer would drop is refused.
func TestR2KeysReachTheWorker(t *testing.T) {
	dev, s := startDev(t)
	ctx := context.Background()
	for i, key := range hardKeys {
		val := []byte("object " + key)
		custom := map[string]string{"Who": "é-" + strconv.Itoa(i)}
		info, err := s.PutObject(ctx, storage.ObjectPut{Bucket: bucket, Key: key, Body: bytes.NewReader(val), Size: int64(len(val)),
			HTTP: storage.HTTPMetadata{ContentType: "text/x-test"}, CustomMetadata: custom})
		if err != nil {
			t.Fatalf("PutObject %q: %v", key, err)
		}
		if info.Key != key || info.Size != int64(len(val)) || info.ETag == "" || info.Uploaded.IsZero() {
			t.Errorf("PutObject %q = %+v", key, info)
		}
		resp, body := worker(t, dev, http.MethodGet, "/r2", url.Values{"key": {key}}, nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, val) {
			t.Errorf("Worker reads %q: %d %q", key, resp.StatusCode, body)
		}
		if got := resp.Header.Get("x-http-metadata"); !jsonEq(got, `{"contentType":"text/x-test"}`) {
			t.Errorf("Worker reads %q http metadata %s", key, got)
		}
		if got := resp.Header.Get("x-custom-metadata"); !jsonEq(got, `{"Who":"é-`+strconv.Itoa(i)+`"}`) {
			t.Errorf("Worker reads %q custom metadata %s", key, got)
		}
		obj, err := s.GetObject(ctx, bucket, key, &storage.ByteRange{Start: 2, End: 4})
		if err != nil {
			t.Fatal(err)
		}
		part, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(part) != string(val[2:5]) || obj.Length != 3 || obj.Info.CustomMetadata["Who"] != custom["Who"] || obj.Info.HTTP.ContentType != "text/x-test" {
			t.Errorf("GetObject %q range = %q %+v", key, part, obj.Info)
		}
	}
	// The Worker writes, with all of R2's HTTP metadata; the explorer reads it.
	worker(t, dev, http.MethodPut, "/r2", url.Values{"key": {"by/worker #1"}, "custom": {`{"a":"b"}`}}, []byte("w"),
		http.Header{"Content-Type": {"text/plain"}, "Cache-Control": {"no-cache"}, "Content-Language": {"fr"}})
	info, err := s.HeadObject(ctx, bucket, "by/worker #1")
	if err != nil || info.HTTP.CacheControl != "no-cache" || info.HTTP.ContentLanguage != "fr" || info.CustomMetadata["a"] != "b" {
		t.Errorf("HeadObject of the Worker's object = %+v, %v", info, err)
	}
	page, err := s.ListObjects(ctx, bucket, storage.ObjectListOptions{Delimiter: "/", Prefix: "w"})
	if err != nil || len(page.Objects) != 0 || len(page.Prefixes) != 1 || page.Prefixes[0] != "w/" {
		t.Errorf("ListObjects w / = %+v, %v", page, err)
	}
	_, err = s.PutObject(ctx, storage.ObjectPut{Bucket: bucket, Key: "c", Body: strings.NewReader("x"), Size: 1, HTTP: storage.HTTPMetadata{CacheControl: "no-store"}})
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "cache_control") {
		t.Errorf("PutObject with Cache-Control: %v", err)
	}
	if _, err := s.HeadObject(ctx, bucket, "c"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused PutObject wrote: %v", err)
	}
	if _, err := s.DeleteObjects(ctx, bucket, []string{"w/hello.txt", "absent"}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := worker(t, dev, http.MethodGet, "/r2", url.Values{"key": {"w/hello.txt"}}, nil, nil); resp.StatusCode != 404 {
		t.Errorf("after DeleteObjects the Worker still reads w/hello.txt: %d", resp.StatusCode)
	}
}

// TestD1: statements reach the Worker's database; a multi-statement sql
// answers one result per statement; a batch is one transaction; a number
// parameter, which the explorer would refuse, is refused with the way out.
func TestD1(t *testing.T) {
	dev, s := startDev(t)
	ctx := context.Background()
	res, err := s.Query(ctx, database, []storage.Statement{{SQL: "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t (name) VALUES ('a'); SELECT 1 AS one"}}, storage.QueryOptions{})
	if err != nil || len(res) != 3 || res[2].Rows[0][0] != int64(1) {
		t.Fatalf("multi-statement = %+v, %v", res, err)
	}
	if _, err := s.Query(ctx, database, []storage.Statement{{SQL: "INSERT INTO t (name) VALUES (?)", Params: []any{"b'; --"}}}, storage.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Query(ctx, database, []storage.Statement{{SQL: "INSERT INTO t (name) VALUES ('c')"}, {SQL: "SELEC broken"}}, storage.QueryOptions{})
	if !errors.Is(err, storage.ErrInvalidArgument) {
		t.Errorf("broken batch: %v", err)
	}
	_, err = s.Query(ctx, database, []storage.Statement{{SQL: "SELECT ?", Params: []any{int64(1)}}}, storage.QueryOptions{})
	if !errors.Is(err, storage.ErrUnsupported) || !strings.Contains(err.Error(), "params[0] is a number") {
		t.Errorf("number parameter: %v", err)
	}
	if _, err := s.Query(ctx, database, []storage.Statement{{SQL: "DELETE FROM t"}}, storage.QueryOptions{ReadOnly: true}); !errors.Is(err, storage.ErrReadOnly) {
		t.Errorf("read-only write: %v", err)
	}
	resp, body := worker(t, dev, http.MethodPost, "/d1", nil, []byte(`{"sql":"SELECT name FROM t ORDER BY id"}`), nil)
	if resp.StatusCode != 200 || !jsonEq(string(body), `{"results":[{"name":"a"},{"name":"b'; --"}]}`) {
		t.Errorf("Worker reads %d %s", resp.StatusCode, body)
	}
}

// TestProbe: nothing listening is ErrNotRunning; another server on the port
// is a clear error naming the URL.
func TestProbe(t *testing.T) {
	ctx := context.Background()
	port := wranglertest.FreePort(t)
	u := "http://127.0.0.1:" + strconv.Itoa(port)
	if _, err := explorer.Probe(ctx, u, nil); !errors.Is(err, explorer.ErrNotRunning) {
		t.Errorf("free port: %v", err)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }))
	defer other.Close()
	_, err := explorer.Probe(ctx, other.URL, nil)
	if err == nil || errors.Is(err, explorer.ErrNotRunning) || !strings.Contains(err.Error(), other.URL) || !strings.Contains(err.Error(), "not as wrangler dev's Local Explorer") {
		t.Errorf("other server: %v", err)
	}
}

func jsonEq(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
