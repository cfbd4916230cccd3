package resources_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// setup describes a server under test; the zero value is a writable server
// on a fresh embedded store.
type setup struct {
	policy     storage.Policy
	maxInline  int64
	pageSize   int
	folderPage int
	dataDir    string // default: a fresh temporary directory
	clientOpts []client.ClientOption
}

type harness struct {
	*mcptest.Session
	t       *testing.T
	dataDir string
	files   string // the --files-root
	notes   chan string
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{t: t, dataDir: s.dataDir, files: t.TempDir(), notes: make(chan string, 1000)}
	if h.dataDir == "" {
		h.dataDir = filepath.Join(t.TempDir(), "data")
	}
	srv, closeStore, err := mcptest.LocalServer(h.dataDir, s.policy, mcpserver.Options{
		MaxInlineBytes: s.maxInline,
		PageSize:       s.pageSize,
		FolderPageSize: s.folderPage,
	}, h.files)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	c, err := client.NewInProcessClientWithOptions(srv, s.clientOpts...)
	if err != nil {
		t.Fatal(err)
	}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		select {
		case h.notes <- n.Method:
		default:
		}
	})
	h.Session = mcptest.Connect(t, c)
	return h
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// read reads a resource that must exist.
func (h *harness) read(uri string) mcp.ResourceContents {
	h.t.Helper()
	res, err := h.tryRead(uri)
	if err != nil {
		h.t.Fatalf("read %s: %v", uri, err)
	}
	if len(res.Contents) != 1 {
		h.t.Fatalf("read %s: %d contents, want 1", uri, len(res.Contents))
	}
	return res.Contents[0]
}

func (h *harness) tryRead(uri string) (*mcp.ReadResourceResult, error) {
	req := mcp.ReadResourceRequest{}
	req.Params.URI = uri
	return h.Client.ReadResource(ctx(h.t), req)
}

// text reads a resource that must be text, returning it and its MIME type.
func (h *harness) text(uri string) (string, string) {
	h.t.Helper()
	c := h.read(uri)
	tc, ok := c.(mcp.TextResourceContents)
	if !ok {
		h.t.Fatalf("read %s: %T, want text", uri, c)
	}
	if tc.URI != uri {
		h.t.Errorf("read %s: contents URI %q", uri, tc.URI)
	}
	return tc.Text, tc.MIMEType
}

// blob reads a resource that must be a blob, returning its bytes and type.
func (h *harness) blob(uri string) ([]byte, string) {
	h.t.Helper()
	c := h.read(uri)
	bc, ok := c.(mcp.BlobResourceContents)
	if !ok {
		h.t.Fatalf("read %s: %T, want blob", uri, c)
	}
	data, err := base64.StdEncoding.DecodeString(bc.Blob)
	if err != nil {
		h.t.Fatalf("read %s: blob is not base64: %v", uri, err)
	}
	return data, bc.MIMEType
}

// listing is a folder read, decoded.
type listing struct {
	URI       string `json:"uri"`
	Bucket    string `json:"bucket"`
	Namespace struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	} `json:"namespace"`
	Prefix  string `json:"prefix"`
	Folders []struct {
		Name string `json:"name"`
		URI  string `json:"uri"`
	} `json:"folders"`
	Objects []struct {
		Name        string `json:"name"`
		Key         string `json:"key"`
		URI         string `json:"uri"`
		Size        int64  `json:"size"`
		ContentType string `json:"content_type"`
		Modified    string `json:"modified"`
	} `json:"objects"`
	Keys []struct {
		Name       string          `json:"name"`
		Key        string          `json:"key"`
		URI        string          `json:"uri"`
		Expiration int64           `json:"expiration"`
		Metadata   json.RawMessage `json:"metadata"`
	} `json:"keys"`
	Next string `json:"next"`
}

func (h *harness) folder(uri string) listing {
	h.t.Helper()
	text, mime := h.text(uri)
	if mime != "application/json" {
		h.t.Errorf("folder %s: MIME type %q", uri, mime)
	}
	var l listing
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		h.t.Fatalf("folder %s: %v\n%s", uri, err, text)
	}
	return l
}

// drain forgets the notifications received so far.
func (h *harness) drain() {
	for {
		select {
		case <-h.notes:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// expect waits for a notification of method.
func (h *harness) expect(method, after string) {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-h.notes:
			if m == method {
				return
			}
		case <-deadline:
			h.t.Fatalf("no %s after %s", method, after)
		}
	}
}

// listAll pages through resources/list, checking every page but the last is
// full.
func (h *harness) listAll(pageSize int) []mcp.Resource {
	h.t.Helper()
	var all []mcp.Resource
	req := mcp.ListResourcesRequest{}
	for range 1000 {
		page, err := h.Client.ListResourcesByPage(ctx(h.t), req)
		if err != nil {
			h.t.Fatalf("resources/list: %v", err)
		}
		all = append(all, page.Resources...)
		if page.NextCursor == "" {
			return all
		}
		if pageSize > 0 && len(page.Resources) != pageSize {
			h.t.Fatalf("a page of %d resources with a cursor, want %d", len(page.Resources), pageSize)
		}
		req.Params.Cursor = page.NextCursor
	}
	h.t.Fatal("resources/list does not end")
	return nil
}

func (h *harness) complete(ref any, arg, value string, context map[string]string) *mcp.Completion {
	h.t.Helper()
	req := mcp.CompleteRequest{}
	req.Params.Ref = ref
	req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
	req.Params.Context = mcp.CompleteContext{Arguments: context}
	res, err := h.Client.Complete(ctx(h.t), req)
	if err != nil {
		h.t.Fatalf("complete %s=%q: %v", arg, value, err)
	}
	return &res.Completion
}

func template(uri string) mcp.ResourceReference {
	return mcp.ResourceReference{Type: "ref/resource", URI: uri}
}

func upload(h *harness, bucket, key string, data []byte, contentType string) {
	h.t.Helper()
	args := map[string]any{"bucket": bucket, "key": key, "content_base64": base64.StdEncoding.EncodeToString(data)}
	if contentType != "" {
		args["content_type"] = contentType
	}
	h.OK("r2_upload", args)
}
