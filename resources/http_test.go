package resources_test

import (
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/httpserve"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Over Streamable HTTP, as over stdio: resource errors carry their JSON-RPC
// code, per protocol era, and name the URI and the reason once (issue 12,
// item 4).
func TestErrorsOverHTTP(t *testing.T) {
	srv, closeStore, err := mcptest.LocalServer(filepath.Join(t.TempDir(), "data"), storage.Policy{},
		mcpserver.Options{MaxInlineBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	web := httptest.NewServer(httpserve.New(srv, httpserve.Options{}).Handler())
	t.Cleanup(web.Close)

	for _, tc := range []struct {
		name     string
		opts     []client.ClientOption
		notFound error
	}{
		{"legacy", []client.ClientOption{client.WithProtocolVersion(mcp.ProtocolVersion20251125)}, mcp.ErrResourceNotFound},
		{"modern", nil, mcp.ErrInvalidParams},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := transport.NewStreamableHTTP(web.URL + httpserve.PathMCP)
			if err != nil {
				t.Fatal(err)
			}
			s := mcptest.Connect(t, client.NewClient(tr, tc.opts...))
			s.OK("create_r2_bucket", map[string]any{"name": "web-" + tc.name})
			s.OK("r2_upload", map[string]any{"bucket": "web-" + tc.name, "key": "big.txt", "content": strings.Repeat("x", 17)})
			for _, c := range []struct {
				uri, code string
				want      error
			}{
				{"r2://web-" + tc.name + "/missing.txt", "not_found", tc.notFound},
				{"r2://web-" + tc.name + "/big.txt", "too_large", mcp.ErrInvalidParams},
				{"r2://Not_A_Bucket/x", "invalid_argument", mcp.ErrInvalidParams},
			} {
				req := mcp.ReadResourceRequest{}
				req.Params.URI = c.uri
				_, err := s.Client.ReadResource(ctx(t), req)
				if !errors.Is(err, c.want) {
					t.Errorf("%s: %v, want %v", c.uri, err, c.want)
					continue
				}
				namesOnce(t, err, c.uri, c.code)
			}
		})
	}
}
