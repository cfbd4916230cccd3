package cf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// hostileKeys are KV keys that a client which does not escape path segments
// sends to the wrong key or the wrong route.
var hostileKeys = []string{
	"a/b", "a//b", "/lead", "trail/", "../up", "./here", "...", "q?x=1", "frag#1", "100%", "%2F", "%zz",
	"with space", "tab\there", "plus+sign", "amp&eq=", "semi;colon", "back\\slash", "日本語/キー", "emoji 😀",
	"\u00e9t\u00e9", strings.Repeat("k", storage.MaxKVKeyBytes),
}

func mustNamespace(t *testing.T, b *Backend, title string) string {
	t.Helper()
	ns, err := b.KV().CreateNamespace(t.Context(), title)
	if err != nil {
		t.Fatalf("CreateNamespace %q: %v", title, err)
	}
	return ns.ID
}

func mustPutValue(t *testing.T, b *Backend, ns string, p storage.KVPut) {
	t.Helper()
	if err := b.KV().Put(t.Context(), ns, p); err != nil {
		t.Fatalf("Put %q: %v", p.Key, err)
	}
}

func readValue(t *testing.T, b *Backend, ns, key string) ([]byte, *storage.KVValue) {
	t.Helper()
	v, err := b.KV().Get(t.Context(), ns, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	defer v.Body.Close()
	data, err := io.ReadAll(v.Body)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	if v.Size != int64(len(data)) {
		t.Errorf("Get %q: Size %d, body %d bytes", key, v.Size, len(data))
	}
	return data, v
}

func TestKVHostileKeysAreEscaped(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "hostile keys")
	for i, key := range hostileKeys {
		value := fmt.Appendf(nil, "value %d", i)
		p := storage.KVPut{Key: key, Body: bytes.NewReader(value), Size: int64(len(value))}
		if i%2 == 0 {
			p.Metadata = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i)) // the multipart write too
		}
		mustPutValue(t, b, ns, p)
	}

	// Each key went out as one escaped path segment.
	for _, r := range f.api.Requests() {
		if r.Method != "PUT" || !strings.Contains(r.Path, "/values/") {
			continue
		}
		seg := r.Path[strings.LastIndex(r.Path, "/values/")+len("/values/"):]
		key, err := url.PathUnescape(seg)
		if err != nil || strings.ContainsAny(seg, "/?# ") || !slices.Contains(hostileKeys, key) {
			t.Errorf("PUT %s: the key segment %q is not one escaped key", r.Path, seg)
		}
	}

	for i, key := range hostileKeys {
		got, v := readValue(t, b, ns, key)
		if want := fmt.Sprintf("value %d", i); string(got) != want {
			t.Errorf("Get %q = %q, want %q", key, got, want)
		}
		if i%2 == 0 && string(v.Metadata) != fmt.Sprintf(`{"i":%d}`, i) {
			t.Errorf("Get %q: metadata %s", key, v.Metadata)
		}
	}
	page, err := b.KV().List(t.Context(), ns, storage.ListOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, k := range page.Keys {
		listed = append(listed, k.Name)
	}
	want := slices.Sorted(slices.Values(hostileKeys))
	if !slices.Equal(listed, want) {
		t.Errorf("List = %q, want %q", listed, want)
	}
	// Prefixes travel in the query: "?" and "#" in them must stay data.
	page, err = b.KV().List(t.Context(), ns, storage.ListOptions{Prefix: "q?x"})
	if err != nil || len(page.Keys) != 1 || page.Keys[0].Name != "q?x=1" {
		t.Errorf("List prefix q?x = %+v, %v", page.Keys, err)
	}
	for _, key := range hostileKeys {
		if err := b.KV().Delete(t.Context(), ns, key); err != nil {
			t.Errorf("Delete %q: %v", key, err)
		}
	}
	if page, _ := b.KV().List(t.Context(), ns, storage.ListOptions{}); len(page.Keys) != 0 {
		t.Errorf("keys left after deleting each: %+v", page.Keys)
	}
}

func TestKVNamespaceIDIsEscaped(t *testing.T) {
	// An id that is not one (Guard lets any id through to GetNamespace
	// under an allow-list) must not reach another route.
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	_, err := b.KV().Get(t.Context(), "../../../user/tokens/verify?", "k")
	if err == nil {
		t.Fatal("Get with a path in the namespace id succeeded")
	}
	for _, r := range f.api.Requests() {
		if strings.HasPrefix(r.Path, "/user/tokens/verify") {
			t.Errorf("a namespace id reached %s", r.Path)
		}
	}
}

func TestKVNamespacePaging(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	const n = 230 // three of Cloudflare's pages of 100
	var want []storage.Namespace
	for i := range n {
		title := fmt.Sprintf("ns-%03d", i)
		if i%10 == 0 {
			title = fmt.Sprintf("other-%03d", i)
		}
		want = append(want, storage.Namespace{ID: mustNamespace(t, b, title), Title: title})
	}
	slices.SortFunc(want, func(x, y storage.Namespace) int { return strings.Compare(x.Title, y.Title) })

	list := func(opts storage.ListOptions) ([]storage.Namespace, int) {
		t.Helper()
		var all []storage.Namespace
		pages := 0
		for {
			page, err := b.KV().ListNamespaces(t.Context(), opts)
			if err != nil {
				t.Fatalf("ListNamespaces %+v: %v", opts, err)
			}
			pages++
			if len(page.Namespaces) > opts.Limit && opts.Limit > 0 {
				t.Fatalf("page of %d over the limit %d", len(page.Namespaces), opts.Limit)
			}
			all = append(all, page.Namespaces...)
			if page.Cursor == "" {
				return all, pages
			}
			if pages > 1000 {
				t.Fatal("listing does not end")
			}
			opts.Cursor = page.Cursor
		}
	}
	for _, limit := range []int{1, 7, 50, 99, 100} {
		got, pages := list(storage.ListOptions{Limit: limit})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: listed %d namespaces, want %d in title order", limit, len(got), len(want))
		}
		if wantPages := (n + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}

	var others []storage.Namespace
	for _, ns := range want {
		if strings.HasPrefix(ns.Title, "other-") {
			others = append(others, ns)
		}
	}
	for _, limit := range []int{3, 100} {
		if got, _ := list(storage.ListOptions{Prefix: "other-", Limit: limit}); !slices.Equal(got, others) {
			t.Errorf("prefix other- limit %d: %v, want %v", limit, got, others)
		}
	}

	// A listing of 100 reads at most two of Cloudflare's pages.
	f.api.ResetRequests()
	if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{Limit: 100}); err != nil {
		t.Fatal(err)
	}
	if got := f.api.Count("GET /accounts/{account_id}/storage/kv/namespaces"); got > 2 {
		t.Errorf("a page of 100 took %d requests", got)
	}

	_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{Cursor: "not a cursor"})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor")
}

func TestKVPutBodies(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "bodies")
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	cases := []struct {
		name     string
		put      storage.KVPut
		wantType string
		query    string
	}{
		{"raw", storage.KVPut{Key: "raw", Body: bytes.NewReader(binary), Size: 256}, "application/octet-stream", ""},
		{"multipart", storage.KVPut{Key: "meta", Body: bytes.NewReader(binary), Size: 256, Metadata: json.RawMessage(`{"a":[1,2.5,"x"]}`)},
			"multipart/form-data", ""},
		{"ttl", storage.KVPut{Key: "ttl", Body: strings.NewReader("v"), Size: 1, Expiry: storage.Expiry{TTL: 120}}, "application/octet-stream", "expiration_ttl=120"},
		{"expiration", storage.KVPut{Key: "exp", Body: strings.NewReader("v"), Size: 1, Expiry: storage.Expiry{Expiration: 4102444800}},
			"application/octet-stream", "expiration=4102444800"},
		{"plain reader", storage.KVPut{Key: "plain", Body: plainReader(binary), Size: 256}, "application/octet-stream", ""},
	}
	for _, c := range cases {
		f.api.ResetRequests()
		want, _ := io.ReadAll(io.NewSectionReader(bytes.NewReader(binary), 0, c.put.Size))
		if c.put.Size == 1 {
			want = []byte("v")
		}
		mustPutValue(t, b, ns, c.put)
		reqs := f.api.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests", c.name, len(reqs))
		}
		r := reqs[0]
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, c.wantType) {
			t.Errorf("%s: Content-Type %q, want %s", c.name, ct, c.wantType)
		}
		if r.ContentLength <= 0 {
			t.Errorf("%s: no Content-Length (%d): the value was not sent with its length", c.name, r.ContentLength)
		}
		if r.Query != c.query {
			t.Errorf("%s: query %q, want %q", c.name, r.Query, c.query)
		}
		got, v := readValue(t, b, ns, c.put.Key)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: value %q, want %q", c.name, got, want)
		}
		if c.put.Metadata != nil && string(v.Metadata) != string(c.put.Metadata) {
			t.Errorf("%s: metadata %s, want %s (as written: numbers kept)", c.name, v.Metadata, c.put.Metadata)
		}
		if c.put.Expiration != 0 && v.Expiration != c.put.Expiration {
			t.Errorf("%s: expiration %d, want %d", c.name, v.Expiration, c.put.Expiration)
		}
	}
}

func TestKVPutBodyOfWrongSize(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "sizes")
	for _, c := range []struct {
		name string
		body io.Reader
		size int64
		want string
	}{
		{"short seekable", strings.NewReader("12345"), 10, "got 5 bytes where its size says 10"},
		{"short stream", plainReader([]byte("12345")), 10, "got 5 bytes where its size says 10"},
		{"long seekable", strings.NewReader("123456789012"), 10, "more bytes than its size of 10"},
		{"long stream", plainReader([]byte("123456789012")), 10, "more bytes than its size of 10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := b.KV().Put(t.Context(), ns, storage.KVPut{Key: "k", Body: c.body, Size: c.size})
			wantCode(t, err, storage.CodeInvalidArgument, c.want)
		})
	}
	if _, err := b.KV().Get(t.Context(), ns, "k"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Errorf("after refused writes, Get = %v, want not_found", err)
	}
}

func TestKVGetNotFound(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "missing")
	_, err := b.KV().Get(t.Context(), ns, "absent")
	wantCode(t, err, storage.CodeNotFound, `key "absent"`, ns)
	_, err = b.KV().Get(t.Context(), "0123456789abcdef0123456789abcdef", "k")
	wantCode(t, err, storage.CodeNotFound, "no such KV namespace")
	err = b.KV().RenameNamespace(t.Context(), "0123456789abcdef0123456789abcdef", "x")
	wantCode(t, err, storage.CodeNotFound, "no such KV namespace")
}

func TestKVBulkChunks(t *testing.T) {
	var entries []storage.KVEntry
	for i := range 50 {
		e := storage.KVEntry{Key: fmt.Sprintf("k%02d", i), Value: bytes.Repeat([]byte{'v'}, i)}
		switch i % 5 {
		case 1:
			e.Value = []byte{0xff, 0xfe, byte(i)} // not UTF-8: base64
		case 2:
			e.Metadata = json.RawMessage(`{"<html>":"&"}`)
		case 3:
			e.TTL = 3600
		}
		entries = append(entries, e)
	}
	for _, limits := range []struct{ entries, bytes int }{{10_000, 100_000_000}, {7, 100_000_000}, {10_000, 400}, {3, 150}} {
		chunks, err := bulkChunks(entries, limits.entries, limits.bytes)
		if err != nil {
			t.Fatal(err)
		}
		var got []bulkEntry
		for _, c := range chunks {
			var items []bulkEntry
			if err := json.Unmarshal(c, &items); err != nil {
				t.Fatalf("limits %+v: a chunk is not a JSON array: %v\n%s", limits, err, c)
			}
			if len(items) > limits.entries || len(items) == 0 {
				t.Errorf("limits %+v: a chunk of %d entries", limits, len(items))
			}
			if len(c) > limits.bytes && len(items) > 1 {
				t.Errorf("limits %+v: a chunk of %d bytes", limits, len(c))
			}
			got = append(got, items...)
		}
		if len(got) != len(entries) {
			t.Fatalf("limits %+v: %d entries in the chunks, want %d", limits, len(got), len(entries))
		}
		for i, e := range entries {
			g := got[i]
			value := []byte(g.Value)
			if g.Base64 {
				if utf8.Valid(e.Value) {
					t.Errorf("%s: a UTF-8 value sent as base64", e.Key)
				}
				value, _ = base64.StdEncoding.DecodeString(g.Value)
			}
			if g.Key != e.Key || !bytes.Equal(value, e.Value) || g.ExpirationTTL != e.TTL || string(g.Metadata) != string(e.Metadata) {
				t.Errorf("entry %d = %+v, want %+v", i, g, e)
			}
		}
	}
}

func TestKVBulkPutAcrossRequests(t *testing.T) {
	// Binary values grow by a third in base64: 4 values of 20 MiB are 80 MiB
	// of entries (within the 100 MB of storage's limit) but 107 MB of JSON.
	if testing.Short() {
		t.Skip("moves 100 MB")
	}
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "bulk big")
	value := bytes.Repeat([]byte{0xff}, 20<<20)
	var entries []storage.KVEntry
	for i := range 4 {
		entries = append(entries, storage.KVEntry{Key: fmt.Sprintf("big-%d", i), Value: value})
	}
	res, err := storage.Guard(b, storage.Policy{}).KV().BulkPut(t.Context(), ns, entries)
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 4 || len(res.Failed) != 0 {
		t.Errorf("BulkPut = %+v", res)
	}
	if got := f.api.Count("PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk"); got != 2 {
		t.Errorf("%d bulk requests, want 2", got)
	}
	got, _ := readValue(t, b, ns, "big-3")
	if !bytes.Equal(got, value) {
		t.Error("big-3 did not come back whole")
	}
}

func TestKVBulkUnsuccessfulKeys(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "bulk failures")
	f.api.FailBulkKeys("b", "d")
	res, err := b.KV().BulkPut(t.Context(), ns, []storage.KVEntry{
		{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}, {Key: "d", Value: []byte("4")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 2 || !slices.Equal(res.Failed, []string{"b", "d"}) {
		t.Errorf("BulkPut = %+v, want 2 written, b and d failed", res)
	}
	n, err := b.KV().BulkDelete(t.Context(), ns, []string{"a", "b", "c"})
	wantCode(t, err, storage.CodeUnavailable, `"b"`, "1 of 3")
	if n != 2 {
		t.Errorf("BulkDelete counted %d, want 2", n)
	}
}

func TestKVBulkGet(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	ns := mustNamespace(t, b, "bulk get")
	mustPutValue(t, b, ns, storage.KVPut{Key: "m", Body: strings.NewReader("é"), Size: 2,
		Metadata: json.RawMessage(`{"big":12345678901234567890}`), Expiry: storage.Expiry{Expiration: 4102444800}})
	mustPutValue(t, b, ns, storage.KVPut{Key: "e", Body: strings.NewReader(""), Size: 0})
	items, err := b.KV().BulkGet(t.Context(), ns, []string{"e", "absent", "m"}, storage.BulkGetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.KVItem{
		{Key: "e", Found: true, Value: []byte{}},
		{Key: "absent"},
		{Key: "m", Found: true, Value: []byte("é"), Metadata: json.RawMessage(`{"big":12345678901234567890}`), Expiration: 4102444800},
	}
	for i, w := range want {
		g := items[i]
		if g.Key != w.Key || g.Found != w.Found || !bytes.Equal(g.Value, w.Value) || string(g.Metadata) != string(w.Metadata) || g.Expiration != w.Expiration {
			t.Errorf("item %d = %+v, want %+v", i, g, w)
		}
	}
}
