package resources_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/resources"
)

// Templates are listed without opening storage; resources/list opens it.
func TestTemplatesAreListedLazily(t *testing.T) {
	h := newHarness(t, setup{})
	res, err := h.Client.ListResourceTemplates(ctx(t), mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tpl := range res.ResourceTemplates {
		got = append(got, tpl.URITemplate.Raw())
		if tpl.Description == "" || tpl.Title == "" {
			t.Errorf("template %s lacks a title or description", tpl.URITemplate.Raw())
		}
	}
	slices.Sort(got)
	if want := []string{"d1://{database}/{table}", "kv://{namespace}/{+key}", "r2://{bucket}/{+key}"}; !slices.Equal(got, want) {
		t.Fatalf("templates = %v, want %v", got, want)
	}
	caps := h.Client.GetServerCapabilities()
	if caps.Resources == nil || !caps.Resources.ListChanged || caps.Completions == nil || caps.Prompts == nil {
		t.Fatalf("capabilities = %+v", caps)
	}
	if _, err := os.Stat(h.dataDir); !os.IsNotExist(err) {
		t.Fatalf("the data directory exists after tools/list and resources/templates/list: %v", err)
	}
	if got := h.listAll(0); len(got) != 0 {
		t.Fatalf("resources on an empty store: %v", got)
	}
	if _, err := os.Stat(h.dataDir); err != nil {
		t.Fatalf("resources/list did not open the store: %v", err)
	}
}

// Objects read back exactly: text types as text with their type, anything
// else as a byte-exact blob, whatever characters the key holds.
func TestReadObjects(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_r2_bucket", map[string]any{"name": "my-assets"})
	binary := make([]byte, 4096)
	for i := range binary {
		binary[i] = byte(rand.IntN(256))
	}
	binary[0] = 0xff // never valid UTF-8
	cases := []struct {
		key, contentType string
		data             []byte
		text             bool
		wantType         string
	}{
		{"docs/README.md", "text/markdown", []byte("# my-assets\nStatic files.\n"), true, "text/markdown"},
		{"config.json", "", []byte(`{"a":1}`), true, "application/json"},
		{"images/logo.png", "", append([]byte("\x89PNG\r\n\x1a\n"), binary[:100]...), false, "image/png"},
		{"blobs/random.bin", "application/octet-stream", binary, false, "application/octet-stream"},
		{"latin1.txt", "text/plain", []byte("caf\xe9"), false, "text/plain"}, // a text type that is not UTF-8
		{"odd keys/a b?c#d%e+f.txt", "text/plain", []byte("odd"), true, "text/plain"},
		{"ünïcødé/日本語.txt", "text/plain; charset=utf-8", []byte("こんにちは"), true, "text/plain; charset=utf-8"},
		{"a//double/./../dots.txt", "text/plain", []byte("dots"), true, "text/plain"},
	}
	for _, c := range cases {
		upload(h, "my-assets", c.key, c.data, c.contentType)
	}
	for _, c := range cases {
		uri := resources.ObjectURI("my-assets", c.key)
		if c.text {
			text, mime := h.text(uri)
			if text != string(c.data) || mime != c.wantType {
				t.Errorf("%s: text %q (%s), want %q (%s)", uri, text, mime, c.data, c.wantType)
			}
			continue
		}
		data, mime := h.blob(uri)
		if !bytes.Equal(data, c.data) || !strings.HasPrefix(mime, c.wantType) {
			t.Errorf("%s: %d bytes (%s), want %d bytes (%s), equal: %v", uri, len(data), mime, len(c.data), c.wantType, bytes.Equal(data, c.data))
		}
	}
	if got := resources.ObjectURI("my-assets", "odd keys/a b?c#d%e+f.txt"); got != "r2://my-assets/odd%20keys/a%20b%3Fc%23d%25e+f.txt" {
		t.Errorf("escaped URI = %s", got)
	}
	// The object's metadata travels in _meta.
	c := h.read(resources.ObjectURI("my-assets", "docs/README.md")).(mcp.TextResourceContents)
	if c.Meta["etag"] == nil || c.Meta["size"] == nil || c.Meta["uploaded"] == nil {
		t.Errorf("_meta = %v", c.Meta)
	}
	// A ? that is not percent-encoded is a query, which objects refuse.
	if _, err := h.tryRead("r2://my-assets/odd keys/a b?c"); err == nil {
		t.Error("a raw ? in an object URI was accepted")
	}
	if _, err := h.tryRead("r2://my-assets/a#b"); err == nil || !strings.Contains(err.Error(), "%23") {
		t.Errorf("a raw # in an object URI: %v", err)
	}
}

func TestReadKVValues(t *testing.T) {
	h := newHarness(t, setup{})
	ns := h.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	id := ns["id"].(string)
	h.OK("kv_put", map[string]any{"namespace": "site-config", "key": "site-title", "value": "My Cloudflare Site",
		"metadata": map[string]any{"updated_by": "assistant"}, "expiration_ttl": 3600})
	h.OK("kv_put", map[string]any{"namespace": "site-config", "key": "flags/beta", "value": ` {"on": true}`})
	h.OK("kv_put", map[string]any{"namespace": "site-config", "key": "bin?ary", "value_base64": "AP8AAQ=="})

	for _, nsRef := range []string{id, "site-config"} { // by id or title
		text, mime := h.text(resources.KeyURI(nsRef, "site-title"))
		if text != "My Cloudflare Site" || !strings.HasPrefix(mime, "text/plain") {
			t.Errorf("site-title via %s = %q (%s)", nsRef, text, mime)
		}
	}
	c := h.read(resources.KeyURI(id, "site-title")).(mcp.TextResourceContents)
	if md, _ := json.Marshal(c.Meta["metadata"]); string(md) != `{"updated_by":"assistant"}` || c.Meta["expiration"] == nil {
		t.Errorf("_meta = %v", c.Meta)
	}
	// One time format for an expiration: the Unix seconds kv_get gives and
	// kv_put takes, in the value's _meta and in the key listing alike.
	got := h.OK("kv_get", map[string]any{"namespace": id, "key": "site-title"})["expiration"]
	if exp, ok := got.(float64); !ok || exp < float64(time.Now().Unix()) || c.Meta["expiration"] != exp {
		t.Errorf("expiration: kv_get %v, resource _meta %v (%T), want the same Unix seconds", got, c.Meta["expiration"], c.Meta["expiration"])
	}
	for _, k := range h.folder(resources.NamespaceURI(id)).Keys {
		if k.Key == "site-title" && float64(k.Expiration) != got {
			t.Errorf("listing expiration %d, kv_get %v", k.Expiration, got)
		}
	}
	if text, mime := h.text(resources.KeyURI(id, "flags/beta")); text != ` {"on": true}` || mime != "application/json" {
		t.Errorf("flags/beta = %q (%s)", text, mime)
	}
	if data, _ := h.blob(resources.KeyURI(id, "bin?ary")); !bytes.Equal(data, []byte{0, 0xff, 0, 1}) {
		t.Errorf("binary value = %v", data)
	}
}

// A missing object, bucket, key or namespace is resource-not-found: -32002
// for clients before protocol 2026-07-28, -32602 (invalid params) after.
func TestNotFound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    []client.ClientOption
		wantErr error
	}{
		{"legacy", []client.ClientOption{client.WithProtocolVersion(mcp.ProtocolVersion20251125)}, mcp.ErrResourceNotFound},
		{"modern", nil, mcp.ErrInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, setup{clientOpts: tc.opts})
			h.OK("create_r2_bucket", map[string]any{"name": "bk1"})
			upload(h, "bk1", "photos/a.jpg", []byte("x"), "")
			ns := h.OK("create_kv_namespace", map[string]any{"title": "ns1"})
			for _, uri := range []string{
				"r2://bk1/missing.txt",
				"r2://bk1/photos/b.jpg",
				"r2://bk1/nothing-here/",
				"r2://no-such-bucket/a.txt",
				"r2://no-such-bucket/",
				resources.KeyURI(ns["id"].(string), "missing"),
				"kv://ns1/missing/",
				"kv://no-such-namespace/key",
				"kv://0123456789abcdef0123456789abcdef/",
			} {
				_, err := h.tryRead(uri)
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("%s: error %v, want %v", uri, err, tc.wantErr)
					continue
				}
				namesOnce(t, err, uri, "not_found")
			}
			// A bad URI is invalid params, not "not found", in both eras.
			for _, uri := range []string{"r2://bk1/photos/?limit=3", "r2://Not_A_Bucket/x"} {
				_, err := h.tryRead(uri)
				if !errors.Is(err, mcp.ErrInvalidParams) {
					t.Errorf("%s: error %v, want invalid params", uri, err)
					continue
				}
				namesOnce(t, err, uri, "invalid_argument")
			}
		})
	}
}

// Objects and values over --max-inline-bytes are refused with an error that
// names the tool and argument that can fetch them.
func TestTooLarge(t *testing.T) {
	h := newHarness(t, setup{maxInline: 16})
	h.OK("create_r2_bucket", map[string]any{"name": "big"})
	upload(h, "big", "large.txt", bytes.Repeat([]byte("x"), 17), "text/plain")
	upload(h, "big", "fits.txt", bytes.Repeat([]byte("x"), 16), "text/plain")
	h.OK("create_kv_namespace", map[string]any{"title": "kv"})
	h.OK("kv_put", map[string]any{"namespace": "kv", "key": "large", "value": strings.Repeat("y", 17)})

	if text, _ := h.text("r2://big/fits.txt"); len(text) != 16 {
		t.Errorf("an object at the limit: %q", text)
	}
	// Too large to send inline is a bad request (-32602), not an internal
	// error, and it says which tool fetches it.
	_, err := h.tryRead("r2://big/large.txt")
	if !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), "r2_download") || !strings.Contains(err.Error(), "save_to") {
		t.Errorf("large object: %v", err)
	}
	namesOnce(t, err, "r2://big/large.txt", "too_large")
	_, err = h.tryRead("kv://kv/large")
	if !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), "kv_get") || !strings.Contains(err.Error(), "save_to") {
		t.Errorf("large value: %v", err)
	}
	namesOnce(t, err, "kv://kv/large", "too_large")
}

// namesOnce checks that a resource error reads "<code>: <uri>: <why>",
// naming the URI once and the reason once, without mcp-go's own wording.
func namesOnce(t *testing.T, err error, uri, code string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", uri)
		return
	}
	text := err.Error()
	if !strings.Contains(text, code+": "+uri+": ") || strings.Count(text, uri) != 1 ||
		strings.Count(text, code) != 1 || strings.Contains(text, "handler not found") {
		t.Errorf("%s: the error should read %q once each: %s", uri, code+": "+uri+": ", text)
	}
}

// Folders list their children, folders first, each with a URI that reads;
// big folders continue through "next" URIs until everything was listed once.
func TestFolders(t *testing.T) {
	h := newHarness(t, setup{folderPage: 3})
	h.OK("create_r2_bucket", map[string]any{"name": "tree"})
	keys := []string{"top.txt", "docs/README.md", "photos/2025/old.jpg", "photos/2026/a b.jpg", "photos/cover.jpg"}
	for i := range 7 {
		keys = append(keys, fmt.Sprintf("photos/2026/img-%02d.jpg", i))
	}
	keys = append(keys, "photos/2026/jan/1.jpg", "photos/2026/feb/2.jpg")
	for _, k := range keys {
		upload(h, "tree", k, []byte("data of "+k), "image/jpeg")
	}

	root := h.folder("r2://tree/")
	if root.Bucket != "tree" || root.Prefix != "" {
		t.Errorf("root = %+v", root)
	}
	// Page size 3: docs/, photos/ and top.txt fit one page.
	if len(root.Folders) != 2 || root.Folders[0].Name != "docs/" || root.Folders[1].URI != "r2://tree/photos/" ||
		len(root.Objects) != 1 || root.Objects[0].Name != "top.txt" || root.Next != "" {
		t.Fatalf("root listing = %+v", root)
	}
	o := root.Objects[0]
	if o.Size != int64(len("data of top.txt")) || o.ContentType != "image/jpeg" || o.Modified == "" || o.URI != "r2://tree/top.txt" {
		t.Errorf("object entry = %+v", o)
	}

	// Walk photos/2026/ page by page through the next URIs.
	var folders, objects []string
	uri := "r2://tree/photos/2026/"
	pages := 0
	for uri != "" {
		l := h.folder(uri)
		pages++
		if len(l.Folders)+len(l.Objects) > 3 {
			t.Fatalf("page %s holds %d entries, over the page size", uri, len(l.Folders)+len(l.Objects))
		}
		for _, f := range l.Folders {
			folders = append(folders, f.Name)
			h.folder(f.URI) // every child folder reads
		}
		for _, o := range l.Objects {
			objects = append(objects, o.Key)
			if data, _ := h.blob(o.URI); string(data) != "data of "+o.Key {
				t.Fatalf("%s reads %q", o.URI, data)
			}
		}
		if l.Next != "" && !strings.HasPrefix(l.Next, "r2://tree/photos/2026/?cursor=") {
			t.Fatalf("next = %q", l.Next)
		}
		uri = l.Next
	}
	if pages < 3 {
		t.Errorf("%d pages for 10 entries at 3 per page", pages)
	}
	if !slices.Equal(folders, []string{"feb/", "jan/"}) {
		t.Errorf("sub-folders = %v", folders)
	}
	want := []string{"photos/2026/a b.jpg"}
	for i := range 7 {
		want = append(want, fmt.Sprintf("photos/2026/img-%02d.jpg", i))
	}
	if !slices.Equal(objects, want) {
		t.Errorf("objects = %v, want %v", objects, want)
	}
}

func TestFolderObjectsReadAsBlobs(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_r2_bucket", map[string]any{"name": "pics"})
	upload(h, "pics", "a/b.jpg", []byte{0xff, 0xd8, 0xff}, "image/jpeg")
	l := h.folder("r2://pics/a/")
	if len(l.Objects) != 1 {
		t.Fatalf("listing = %+v", l)
	}
	if data, mime := h.blob(l.Objects[0].URI); !bytes.Equal(data, []byte{0xff, 0xd8, 0xff}) || mime != "image/jpeg" {
		t.Errorf("blob = %v %s", data, mime)
	}
}

// KV folders list keys flat, with the path after the namespace as prefix.
func TestKVFolders(t *testing.T) {
	h := newHarness(t, setup{folderPage: 3}) // KV lists at least 10 per page
	ns := h.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	id := ns["id"].(string)
	var entries []any
	for i := range 25 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("config/feature-%02d", i), "value": "on", "metadata": map[string]any{"n": i}})
	}
	entries = append(entries, map[string]any{"key": "site-title", "value": "x"}, map[string]any{"key": "config/deep/er", "value": "y"})
	h.OK("kv_bulk_put", map[string]any{"namespace": id, "entries": entries})

	var got []string
	uri := "kv://site-config/config/"
	for uri != "" {
		l := h.folder(uri)
		if l.Namespace.ID != id || l.Namespace.Title != "site-config" || l.Prefix != "config/" {
			t.Fatalf("listing header = %+v", l)
		}
		for _, k := range l.Keys {
			got = append(got, k.Key)
			if k.URI != resources.KeyURI(id, k.Key) || k.Name != strings.TrimPrefix(k.Key, "config/") {
				t.Errorf("key entry = %+v", k)
			}
		}
		uri = l.Next
	}
	if len(got) != 26 || got[0] != "config/deep/er" || slices.Contains(got, "site-title") {
		t.Errorf("keys under config/ = %v", got)
	}
	root := h.folder(resources.NamespaceURI(id))
	if len(root.Keys) != 10 || root.Next == "" || len(root.Keys[1].Metadata) == 0 {
		t.Errorf("root listing = %+v", root)
	}
}

// resources/list: one folder per bucket and namespace, paged by cursor.
func TestResourcesListPages(t *testing.T) {
	const page = 4
	h := newHarness(t, setup{pageSize: page})
	var want []string
	for i := range 9 {
		name := fmt.Sprintf("bucket-%02d", i)
		h.OK("create_r2_bucket", map[string]any{"name": name})
		want = append(want, "r2://"+name+"/")
	}
	// A namespace titled like a bucket must not shadow it across a page
	// boundary.
	for _, title := range []string{"bucket-03", "settings"} {
		ns := h.OK("create_kv_namespace", map[string]any{"title": title})
		want = append(want, "kv://"+ns["id"].(string)+"/")
	}
	all := h.listAll(page)
	var got []string
	for _, r := range all {
		got = append(got, r.URI)
		if r.MIMEType != "application/json" || r.Title == "" || r.Description == "" {
			t.Errorf("resource %+v lacks a type, title or description", r)
		}
		if !strings.HasPrefix(r.Name, "kv:") && !strings.HasPrefix(r.Name, "r2:") {
			t.Errorf("resource name %q", r.Name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("resources = %v\nwant %v", got, want)
	}
	// Each listed folder reads.
	for _, r := range all {
		h.folder(r.URI)
	}
	// Tools are paged too, and the client still sees them all.
	if len(h.Tools) < 20 {
		t.Errorf("%d tools listed with page size %d", len(h.Tools), page)
	}
}

// Creating, renaming and deleting buckets and namespaces through tools
// changes resources/list and sends notifications/resources/list_changed.
func TestListChanged(t *testing.T) {
	h := newHarness(t, setup{})
	const changed = "notifications/resources/list_changed"
	uris := func() []string {
		var out []string
		for _, r := range h.listAll(0) {
			out = append(out, r.URI+"="+r.Title)
		}
		slices.Sort(out)
		return out
	}
	if got := uris(); len(got) != 0 {
		t.Fatalf("resources = %v", got)
	}
	h.drain()
	h.OK("create_r2_bucket", map[string]any{"name": "fresh"})
	h.expect(changed, "create_r2_bucket")
	if got := uris(); !slices.Equal(got, []string{"r2://fresh/=fresh"}) {
		t.Fatalf("after create: %v", got)
	}
	h.drain()
	ns := h.OK("create_kv_namespace", map[string]any{"title": "cfg"})
	h.expect(changed, "create_kv_namespace")
	id := ns["id"].(string)
	h.drain()
	h.OK("rename_kv_namespace", map[string]any{"namespace": id, "title": "config"})
	h.expect(changed, "rename_kv_namespace")
	if got := uris(); !slices.Equal(got, []string{"kv://" + id + "/=config", "r2://fresh/=fresh"}) {
		t.Fatalf("after rename: %v", got)
	}
	h.drain()
	h.OK("delete_r2_bucket", map[string]any{"bucket": "fresh", "confirm": "fresh"})
	h.expect(changed, "delete_r2_bucket")
	h.drain()
	h.OK("delete_kv_namespace", map[string]any{"namespace": id, "confirm": "config"})
	h.expect(changed, "delete_kv_namespace")
	if got := uris(); len(got) != 0 {
		t.Fatalf("after deletes: %v", got)
	}
	// A failed change sends nothing. Notifications reach the client in the
	// order they are sent, so one from a later call that sends progress is
	// the signal that a list_changed of the failed call would have come.
	h.OK("create_r2_bucket", map[string]any{"name": "marker"})
	h.expect(changed, "create_r2_bucket")
	marker := filepath.Join(h.files, "marker.txt")
	if err := os.WriteFile(marker, []byte("marker"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.drain()
	h.Fail("delete_r2_bucket", map[string]any{"bucket": "fresh", "confirm": "fresh"}, "not_found")
	req := mcp.CallToolRequest{}
	req.Params.Name = "r2_upload"
	req.Params.Arguments = map[string]any{"bucket": "marker", "key": "marker.txt", "file_path": marker}
	req.Params.Meta = &mcp.Meta{ProgressToken: "marker"}
	if res, err := h.Client.CallTool(ctx(t), req); err != nil || res.IsError {
		t.Fatalf("upload with progress: %v %v", err, res)
	}
	deadline := time.After(10 * time.Second)
	for progress := false; !progress; {
		select {
		case m := <-h.notes:
			if m == changed {
				t.Fatal("list_changed after a failed delete")
			}
			progress = m == "notifications/progress"
		case <-deadline:
			t.Fatal("the progress notification of the next call never came")
		}
	}
}

// Changes made behind the server's back (another process on the same data
// directory) show up at the next resources/list, with a notification.
func TestListRefreshesFromBackend(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, setup{dataDir: dir})
	other := newHarness(t, setup{dataDir: dir})
	if got := h.listAll(0); len(got) != 0 {
		t.Fatalf("resources = %v", got)
	}
	h.drain()
	other.OK("create_r2_bucket", map[string]any{"name": "elsewhere"})
	got := h.listAll(0)
	if len(got) != 1 || got[0].URI != "r2://elsewhere/" {
		t.Fatalf("resources = %v", got)
	}
	h.expect("notifications/resources/list_changed", "a bucket created by another process was listed")
}

func values(c *mcp.Completion) string { return strings.Join(c.Values, ",") }

func TestCompletion(t *testing.T) {
	h := newHarness(t, setup{})
	r2, kv := template(resources.TemplateR2), template(resources.TemplateKV)
	for i := range 105 {
		h.OK("create_r2_bucket", map[string]any{"name": fmt.Sprintf("b-%03d", i)})
	}
	h.OK("create_r2_bucket", map[string]any{"name": "assets"})
	c := h.complete(r2, "bucket", "b-", nil)
	if len(c.Values) != 100 || !c.HasMore || c.Values[0] != "b-000" {
		t.Errorf("bucket b-: %d values, hasMore %v", len(c.Values), c.HasMore)
	}
	if c := h.complete(r2, "bucket", "b-10", nil); values(c) != "b-100,b-101,b-102,b-103,b-104" || c.HasMore {
		t.Errorf("bucket b-10: %s hasMore %v", values(c), c.HasMore)
	}
	if c := h.complete(r2, "bucket", "as", nil); values(c) != "assets" {
		t.Errorf("bucket as: %s", values(c))
	}

	ns := h.OK("create_kv_namespace", map[string]any{"title": "Site-Config"})
	id := ns["id"].(string)
	h.OK("create_kv_namespace", map[string]any{"title": "sessions"})
	if c := h.complete(kv, "namespace", "s", nil); values(c) != "Site-Config,sessions" {
		t.Errorf("namespace s: %s", values(c))
	}
	if c := h.complete(kv, "namespace", id[:6], nil); values(c) != id {
		t.Errorf("namespace by id prefix %s: %s", id[:6], values(c))
	}

	// Object keys: one folder level at a time, in URI form.
	for _, k := range []string{"photos/2026/a.jpg", "photos/2026/b.jpg", "photos/cover.jpg", "photos/x y?.jpg", "readme.txt"} {
		upload(h, "assets", k, []byte("x"), "")
	}
	in := map[string]string{"bucket": "assets"}
	if c := h.complete(r2, "key", "", in); values(c) != "photos/,readme.txt" {
		t.Errorf("key '': %s", values(c))
	}
	if c := h.complete(r2, "key", "photos/", in); values(c) != "photos/2026/,photos/cover.jpg,photos/x%20y%3F.jpg" {
		t.Errorf("key photos/: %s", values(c))
	}
	if c := h.complete(r2, "key", "photos/x%20", in); values(c) != "photos/x%20y%3F.jpg" {
		t.Errorf("key photos/x%%20: %s", values(c))
	}
	if c := h.complete(r2, "key", "photos/", nil); len(c.Values) != 0 {
		t.Errorf("key without a bucket: %s", values(c))
	}
	if c := h.complete(r2, "key", "", map[string]string{"bucket": "no-such-bucket"}); len(c.Values) != 0 {
		t.Errorf("key in a missing bucket: %s", values(c))
	}
	for i := range 120 {
		upload(h, "b-000", fmt.Sprintf("k%03d", i), []byte("x"), "")
	}
	if c := h.complete(r2, "key", "k", map[string]string{"bucket": "b-000"}); len(c.Values) != 100 || !c.HasMore {
		t.Errorf("120 keys: %d values, hasMore %v", len(c.Values), c.HasMore)
	}

	// KV keys: flat, by title or id in the context.
	var entries []any
	for i := range 150 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("config:%03d", i), "value": "v"})
	}
	entries = append(entries, map[string]any{"key": "site title", "value": "v"})
	h.OK("kv_bulk_put", map[string]any{"namespace": id, "entries": entries})
	c = h.complete(kv, "key", "config:", map[string]string{"namespace": "Site-Config"})
	if len(c.Values) != 100 || !c.HasMore || c.Values[0] != "config:000" {
		t.Errorf("kv key config:: %d values, hasMore %v", len(c.Values), c.HasMore)
	}
	if c := h.complete(kv, "key", "site", map[string]string{"namespace": id}); values(c) != "site%20title" || c.HasMore {
		t.Errorf("kv key site: %s", values(c))
	}
	// Completed values read back.
	if text, _ := h.text("kv://" + id + "/site%20title"); text != "v" {
		t.Errorf("completed key reads %q", text)
	}
}

// The allow-lists hide buckets and namespaces from resources/list,
// completion and reads, exactly as from tools.
func TestAllowListsHideResources(t *testing.T) {
	dir := t.TempDir()
	admin := newHarness(t, setup{dataDir: dir})
	for _, b := range []string{"public-site", "secret-backups"} {
		admin.OK("create_r2_bucket", map[string]any{"name": b})
		upload(admin, b, "docs/file.txt", []byte("content of "+b), "text/plain")
	}
	var secretID string
	for _, title := range []string{"site-config", "secret-tokens"} {
		ns := admin.OK("create_kv_namespace", map[string]any{"title": title})
		admin.OK("kv_put", map[string]any{"namespace": title, "key": "k", "value": "value of " + title})
		if title == "secret-tokens" {
			secretID = ns["id"].(string)
		}
	}

	h := newHarness(t, setup{dataDir: dir, policy: storage.Policy{Buckets: []string{"public-site"}, Namespaces: []string{"site-config"}}})
	var got []string
	for _, r := range h.listAll(0) {
		got = append(got, r.Title)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"public-site", "site-config"}) {
		t.Fatalf("resources/list = %v", got)
	}
	if text, _ := h.text("r2://public-site/docs/file.txt"); text != "content of public-site" {
		t.Errorf("allowed object = %q", text)
	}
	if text, _ := h.text("kv://site-config/k"); text != "value of site-config" {
		t.Errorf("allowed value = %q", text)
	}
	for _, uri := range []string{"r2://secret-backups/docs/file.txt", "r2://secret-backups/", "r2://secret-backups/docs/",
		"kv://secret-tokens/k", "kv://" + secretID + "/k", "kv://" + secretID + "/", "kv://secret-tokens/"} {
		if _, err := h.tryRead(uri); !errors.Is(err, mcp.ErrInvalidParams) || strings.Contains(err.Error(), "content of") {
			t.Errorf("%s: %v, want not found", uri, err)
		}
	}
	r2, kv := template(resources.TemplateR2), template(resources.TemplateKV)
	if c := h.complete(r2, "bucket", "", nil); values(c) != "public-site" {
		t.Errorf("bucket completion = %s", values(c))
	}
	if c := h.complete(kv, "namespace", "s", nil); values(c) != "site-config" {
		t.Errorf("namespace completion = %s", values(c))
	}
	if c := h.complete(kv, "namespace", secretID[:8], nil); len(c.Values) != 0 {
		t.Errorf("namespace completion by a hidden id = %s", values(c))
	}
	if c := h.complete(r2, "key", "", map[string]string{"bucket": "secret-backups"}); len(c.Values) != 0 {
		t.Errorf("key completion in a hidden bucket = %s", values(c))
	}
	if c := h.complete(kv, "key", "", map[string]string{"namespace": secretID}); len(c.Values) != 0 {
		t.Errorf("key completion in a hidden namespace = %s", values(c))
	}
	// Creating a bucket outside the list is refused, and announces nothing.
	h.drain()
	h.Fail("create_r2_bucket", map[string]any{"name": "another"}, "permission_denied")
	if got := h.listAll(0); len(got) != 2 {
		t.Errorf("after a refused create: %v", got)
	}
}
