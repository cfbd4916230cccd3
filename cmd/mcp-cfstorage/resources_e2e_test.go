package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// TestResourcesAndPromptsOverStdio browses the seed walk-through's storage
// the way an MCP client does, over real stdio against the built binary:
// templates, resources/list with more buckets than one page, list_changed
// after tools create and delete, text, binary and folder reads with
// continuation URIs, completion, and both prompts.
func TestResourcesAndPromptsOverStdio(t *testing.T) {
	home, data, files := t.TempDir(), t.TempDir(), t.TempDir()
	s := startServer(t, home, "--backend", "local", "--data-dir", data, "--files-root", files)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	notes := make(chan string, 1000)
	s.Client.OnNotification(func(n mcp.JSONRPCNotification) {
		select {
		case notes <- n.Method:
		default:
		}
	})

	tpls, err := s.Client.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var raw []string
	for _, tpl := range tpls.ResourceTemplates {
		raw = append(raw, tpl.URITemplate.Raw())
	}
	slices.Sort(raw)
	if !slices.Equal(raw, []string{"d1://{database}/{table}", "kv://{namespace}/{+key}", "r2://{bucket}/{+key}"}) {
		t.Fatalf("templates = %v", raw)
	}

	// The seed walk-through's storage.
	ns := s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	nsID := ns["id"].(string)
	s.OK("kv_put", map[string]any{"namespace": nsID, "key": "site-title", "value": "My Cloudflare Site"})
	s.OK("create_r2_bucket", map[string]any{"name": "my-assets"})
	readme := "# my-assets\nStatic files for the site.\n"
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "docs/README.md", "content": readme, "content_type": "text/markdown"})
	logo := pngFile(t, filepath.Join(files, "logo.png"))
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "images/logo.png", "file_path": "logo.png"})
	for i := range 105 {
		s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": fmt.Sprintf("photos/2026/img %03d.jpg", i),
			"content_base64": base64.StdEncoding.EncodeToString([]byte{0xff, 0xd8, byte(i)})})
	}

	read := func(uri string) (mcp.ResourceContents, error) {
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := s.Client.ReadResource(ctx, req)
		if err != nil {
			return nil, err
		}
		if len(res.Contents) != 1 {
			t.Fatalf("%s: %d contents", uri, len(res.Contents))
		}
		return res.Contents[0], nil
	}
	mustRead := func(uri string) mcp.ResourceContents {
		t.Helper()
		c, err := read(uri)
		if err != nil {
			t.Fatalf("read %s: %v", uri, err)
		}
		return c
	}

	// Text and binary objects, and a KV value.
	if c, ok := mustRead("r2://my-assets/docs/README.md").(mcp.TextResourceContents); !ok || c.Text != readme || c.MIMEType != "text/markdown" {
		t.Errorf("README = %+v", c)
	}
	blob, ok := mustRead("r2://my-assets/images/logo.png").(mcp.BlobResourceContents)
	if got, _ := base64.StdEncoding.DecodeString(blob.Blob); !ok || !bytes.Equal(got, logo) || blob.MIMEType != "image/png" {
		t.Errorf("logo: %d bytes of %s, want %d, equal %v", len(got), blob.MIMEType, len(logo), bytes.Equal(got, logo))
	}
	if c, ok := mustRead("kv://site-config/site-title").(mcp.TextResourceContents); !ok || c.Text != "My Cloudflare Site" {
		t.Errorf("site-title = %+v", c)
	}
	if _, err := read("r2://my-assets/missing.txt"); !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("missing object: %v", err)
	}

	// Folders, walked like a file tree, with continuation URIs.
	type listing struct {
		Folders []struct{ Name, URI string }
		Objects []struct {
			Key, URI string
			Size     int64
		}
		Next string
	}
	folder := func(uri string) listing {
		t.Helper()
		var l listing
		if err := json.Unmarshal([]byte(mustRead(uri).(mcp.TextResourceContents).Text), &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	root := folder("r2://my-assets/")
	if len(root.Folders) != 3 || root.Folders[2].URI != "r2://my-assets/photos/" || len(root.Objects) != 0 {
		t.Fatalf("root = %+v", root)
	}
	photos := folder(folder(root.Folders[2].URI).Folders[0].URI)
	var keys []string
	for l, pages := photos, 1; ; pages++ {
		for _, o := range l.Objects {
			keys = append(keys, o.Key)
		}
		if l.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages for 105 objects", pages)
			}
			break
		}
		l = folder(l.Next)
	}
	if len(keys) != 105 || keys[104] != "photos/2026/img 104.jpg" {
		t.Errorf("photos/2026/ lists %d keys", len(keys))
	}
	if b, ok := mustRead(photos.Objects[7].URI).(mcp.BlobResourceContents); !ok || b.Blob != base64.StdEncoding.EncodeToString([]byte{0xff, 0xd8, 7}) {
		t.Errorf("object from a listing = %+v", b)
	}

	// resources/list with more buckets than one page (100), and
	// list_changed when tools create and delete one.
	for i := range 100 {
		s.OK("create_r2_bucket", map[string]any{"name": fmt.Sprintf("bucket-%03d", i)})
	}
	all, err := s.Client.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Resources) != 102 {
		t.Fatalf("resources/list gave %d resources, want 102", len(all.Resources))
	}
	first, err := s.Client.ListResourcesByPage(ctx, mcp.ListResourcesRequest{})
	if err != nil || len(first.Resources) != 100 || first.NextCursor == "" {
		t.Fatalf("first page: %d resources, cursor %q, %v", len(first.Resources), first.NextCursor, err)
	}
	expect := func(after string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-notes:
				if m == "notifications/resources/list_changed" {
					return
				}
			case <-deadline:
				t.Fatalf("no notifications/resources/list_changed after %s", after)
			}
		}
	}
	drain := func() {
		for {
			select {
			case <-notes:
			case <-time.After(100 * time.Millisecond):
				return
			}
		}
	}
	drain()
	s.OK("create_r2_bucket", map[string]any{"name": "fresh"})
	expect("create_r2_bucket")
	drain()
	s.OK("delete_r2_bucket", map[string]any{"bucket": "fresh", "confirm": "fresh"})
	expect("delete_r2_bucket")

	// Completion.
	complete := func(ref any, arg, value string, context map[string]string) mcp.Completion {
		t.Helper()
		req := mcp.CompleteRequest{}
		req.Params.Ref = ref
		req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
		req.Params.Context = mcp.CompleteContext{Arguments: context}
		res, err := s.Client.Complete(ctx, req)
		if err != nil {
			t.Fatalf("complete %s: %v", arg, err)
		}
		return res.Completion
	}
	r2 := mcp.ResourceReference{Type: "ref/resource", URI: "r2://{bucket}/{+key}"}
	kv := mcp.ResourceReference{Type: "ref/resource", URI: "kv://{namespace}/{+key}"}
	if c := complete(r2, "bucket", "bucket-", nil); len(c.Values) != 100 || c.HasMore {
		t.Errorf("bucket completion: %d values, hasMore %v", len(c.Values), c.HasMore)
	}
	if c := complete(r2, "bucket", "my", nil); !slices.Equal(c.Values, []string{"my-assets"}) {
		t.Errorf("bucket my: %v", c.Values)
	}
	if c := complete(kv, "namespace", "site", nil); !slices.Equal(c.Values, []string{"site-config"}) {
		t.Errorf("namespace site: %v", c.Values)
	}
	if c := complete(r2, "key", "photos/2026/img", map[string]string{"bucket": "my-assets"}); len(c.Values) != 100 || !c.HasMore ||
		c.Values[0] != "photos/2026/img%20000.jpg" {
		t.Errorf("key completion: %d values, hasMore %v", len(c.Values), c.HasMore)
	}
	if c := complete(kv, "key", "site", map[string]string{"namespace": "site-config"}); !slices.Equal(c.Values, []string{"site-title"}) {
		t.Errorf("kv key completion: %v", c.Values)
	}

	// Prompts, with the real ids.
	prompt := func(name string, args map[string]string) string {
		t.Helper()
		req := mcp.GetPromptRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := s.Client.GetPrompt(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res.Messages[0].Content.(mcp.TextContent).Text
	}
	ww := prompt("wire_worker", map[string]string{"namespace": "site-config", "bucket": "my-assets"})
	if !strings.Contains(ww, `id = "`+nsID+`"`) || !strings.Contains(ww, `bucket_name = "my-assets"`) || !strings.Contains(ww, "R2Bucket") {
		t.Errorf("wire_worker:\n%s", ww)
	}
	if ov := prompt("storage_overview", nil); !strings.Contains(ov, nsID) || !strings.Contains(ov, `"site-title"`) || !strings.Contains(ov, "R2 buckets: 101") {
		t.Errorf("storage_overview:\n%s", ov)
	}
	s.stop(t)
}

// rootsHandler announces one directory as the client's root.
type rootsHandler struct {
	mu  sync.Mutex
	dir string
}

func (h *rootsHandler) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(h.dir)}
	return &mcp.ListRootsResult{Roots: []mcp.Root{{URI: u.String(), Name: "project"}}}, nil
}

// TestClientRootsOverStdio: a directory announced by the client (and no
// --files-root) is where file_path may read from, over real stdio, in both
// protocol eras: 2025-11-25 (the server sends roots/list) and 2026-07-28
// (the server asks through an input_required result and the client retries).
func TestClientRootsOverStdio(t *testing.T) {
	for _, proto := range []string{mcp.ProtocolVersion20251125, mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(proto, func(t *testing.T) {
			project, outside := t.TempDir(), t.TempDir()
			for _, dir := range []string{project, outside} {
				if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("notes in "+dir), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			tr := transport.NewStdioWithOptions(binary, childEnv(t.TempDir()), []string{"--backend", "local", "--data-dir", t.TempDir()})
			c := client.NewClient(tr, client.WithRootsHandler(&rootsHandler{dir: project}), client.WithProtocolVersion(proto))
			s := mcptest.Connect(t, c)
			s.OK("create_r2_bucket", map[string]any{"name": "uploads"})
			s.OK("r2_upload", map[string]any{"bucket": "uploads", "key": "notes.txt", "file_path": filepath.Join(project, "notes.txt")})
			s.Fail("r2_upload", map[string]any{"bucket": "uploads", "key": "x", "file_path": filepath.Join(outside, "notes.txt")}, "permission_denied")
			_, gotValue := s.Read("r2_download", map[string]any{"bucket": "uploads", "key": "notes.txt"})
			if gotValue != "notes in "+project {
				t.Errorf("uploaded = %v", gotValue)
			}
			// A client without the roots capability gets no such directory.
			plain := mcptest.Connect(t, client.NewClient(transport.NewStdioWithOptions(binary, childEnv(t.TempDir()),
				[]string{"--backend", "local", "--data-dir", t.TempDir()}), client.WithProtocolVersion(proto)))
			plain.OK("create_r2_bucket", map[string]any{"name": "uploads"})
			plain.Fail("r2_upload", map[string]any{"bucket": "uploads", "key": "notes.txt", "file_path": filepath.Join(project, "notes.txt")}, "permission_denied")
		})
	}
}

// TestResourcesStartLazily: listing templates and prompts does not open the
// store; resources/list does.
func TestResourcesStartLazily(t *testing.T) {
	data := filepath.Join(t.TempDir(), "not-yet")
	s := startServer(t, t.TempDir(), "--backend", "local", "--data-dir", data)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Client.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.ListPrompts(ctx, mcp.ListPromptsRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("data dir exists before any storage call: %v", err)
	}
	if _, err := s.Client.ListResources(ctx, mcp.ListResourcesRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Fatalf("resources/list did not open the store: %v", err)
	}
	s.stop(t)
}

// Over real stdio: a fresh server's first resources/list announces no
// change (notifications/resources/list_changed is for changes, and a client
// that has just connected has missed none), and resource and prompt errors
// carry their JSON-RPC code and name the URI and the reason once (issue 12,
// items 4 and 9).
func TestResourceErrorsAndFirstListOverStdio(t *testing.T) {
	home, data := t.TempDir(), t.TempDir()
	// Storage made before the server starts, as a returning user has.
	b := local.New(data)
	if _, err := b.R2().CreateBucket(context.Background(), storage.BucketSpec{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	b.Close()

	// The client speaks protocol 2026-07-28, where a missing resource is
	// -32602; resources' own tests cover -32002 for older clients.
	for _, tc := range []struct {
		name     string
		notFound error
	}{
		{"modern", mcp.ErrInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, home, "--backend", "local", "--data-dir", data, "--max-inline-bytes", "16")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var changed atomic.Int32
			s.Client.OnNotification(func(n mcp.JSONRPCNotification) {
				if n.Method == "notifications/resources/list_changed" {
					changed.Add(1)
				}
			})
			for range 2 {
				list, err := s.Client.ListResources(ctx, mcp.ListResourcesRequest{})
				if err != nil || len(list.Resources) == 0 {
					t.Fatalf("resources/list: %+v, %v", list, err)
				}
			}
			time.Sleep(300 * time.Millisecond) // a notification would have arrived by now
			if n := changed.Load(); n != 0 {
				t.Errorf("%d list_changed notifications after listing an unchanged store", n)
			}
			s.OK("create_r2_bucket", map[string]any{"name": "after-" + tc.name})
			deadline := time.Now().Add(10 * time.Second)
			for changed.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if changed.Load() == 0 {
				t.Error("no list_changed after create_r2_bucket")
			}

			s.OK("r2_upload", map[string]any{"bucket": "before", "key": "big.txt", "content": strings.Repeat("x", 17)})
			for _, c := range []struct {
				uri, code string
				want      error
			}{
				{"r2://before/missing.txt", "not_found", tc.notFound},
				{"r2://before/big.txt", "too_large", mcp.ErrInvalidParams},
				{"r2://Not_A_Bucket/x", "invalid_argument", mcp.ErrInvalidParams},
			} {
				req := mcp.ReadResourceRequest{}
				req.Params.URI = c.uri
				_, err := s.Client.ReadResource(ctx, req)
				if !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.uri, err, c.want)
					continue
				}
				if text := err.Error(); !strings.Contains(text, c.code+": "+c.uri+": ") || strings.Count(text, c.uri) != 1 ||
					strings.Count(text, c.code) != 1 || strings.Contains(text, "handler not found") {
					t.Errorf("%s: the error should name the URI and the reason once: %s", c.uri, text)
				}
			}
			req := mcp.GetPromptRequest{}
			req.Params.Name = "wire_worker"
			req.Params.Arguments = map[string]string{"namespace": "no-such-namespace", "bucket": "before"}
			if _, err := s.Client.GetPrompt(ctx, req); !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), `not_found: namespace "no-such-namespace"`) {
				t.Errorf("wire_worker with an unknown namespace: %v, want invalid params naming it", err)
			}
		})
	}
}
