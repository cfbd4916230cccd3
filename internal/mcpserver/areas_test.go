package mcpserver_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// --toolsets chooses areas for everything the server offers: tools,
// resource templates, folder resources, prompts and the instructions. An
// area left out is never reached, not even by reading one of its URIs.
func TestToolsetsChooseAreas(t *testing.T) {
	dir := t.TempDir()
	// One of each, made directly so that every area has something to show.
	seed := local.New(dir)
	ctx := t.Context()
	ns, err := seed.KV().CreateNamespace(ctx, "site-config")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.R2().CreateBucket(ctx, storage.BucketSpec{Name: "assets"}); err != nil {
		t.Fatal(err)
	}
	if _, err := seed.D1().CreateDatabase(ctx, storage.DatabaseSpec{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	seed.Close()

	kvTools := []string{"create_kv_namespace", "delete_kv_namespace", "kv_bulk_delete", "kv_bulk_get", "kv_bulk_put",
		"kv_delete", "kv_get", "kv_list", "kv_put", "list_kv_namespaces", "rename_kv_namespace"}
	r2Tools := []string{"create_r2_bucket", "delete_r2_bucket", "list_r2_buckets", "r2_copy", "r2_delete", "r2_download",
		"r2_head", "r2_list", "r2_presign", "r2_upload"}
	d1Tools := []string{"create_d1_database", "d1_query", "delete_d1_database", "list_d1_databases"}
	accountTools := []string{"whoami"}
	for _, tc := range []struct {
		toolsets  []string
		tools     []string // exactly these, in any order
		templates []string // URI templates, sorted
		folders   []string // resources/list URI schemes, sorted
		prompts   []string
		mention   []string // in the instructions
		absent    []string // from the instructions
		notServed []string // URIs whose read must fail as unsupported or not found
	}{
		{
			toolsets:  nil,
			tools:     slices.Concat(kvTools, r2Tools, d1Tools, accountTools),
			templates: []string{"d1://{database}/{table}", "kv://{namespace}/{+key}", "r2://{bucket}/{+key}"},
			folders:   []string{"d1", "kv", "r2"},
			prompts:   []string{"storage_overview", "wire_worker"},
			mention:   []string{"Workers KV", "R2 (", "D1 (", "d1_query", "kv://", "r2://", "d1://"},
		},
		{
			toolsets:  []string{"kv"},
			tools:     kvTools,
			templates: []string{"kv://{namespace}/{+key}"},
			folders:   []string{"kv"},
			prompts:   []string{"storage_overview", "wire_worker"},
			mention:   []string{"Workers KV", "kv://"},
			absent:    []string{"R2", "D1", "r2://", "d1://", "d1_query"},
			notServed: []string{"r2://assets/", "d1://app/"},
		},
		{
			toolsets:  []string{"r2", "d1", "account"},
			tools:     slices.Concat(r2Tools, d1Tools, accountTools),
			templates: []string{"d1://{database}/{table}", "r2://{bucket}/{+key}"},
			folders:   []string{"d1", "r2"},
			prompts:   []string{"storage_overview", "wire_worker"},
			mention:   []string{"R2 (", "D1 (", "r2://", "d1://"},
			absent:    []string{"Workers KV", "kv://"},
			notServed: []string{"kv://" + ns.ID + "/", "kv://site-config/"},
		},
		{
			toolsets:  []string{"account"},
			tools:     accountTools,
			prompts:   nil,
			mention:   []string{"no storage area"},
			absent:    []string{"kv://", "r2://", "d1://"},
			notServed: []string{"r2://assets/", "kv://site-config/", "d1://app/"},
		},
	} {
		t.Run(strings.Join(append([]string{"toolsets"}, tc.toolsets...), "-"), func(t *testing.T) {
			backend := local.New(dir)
			t.Cleanup(func() { backend.Close() })
			store := storage.Guard(backend, storage.Policy{Off: storage.Unnamed(tc.toolsets)})
			srv, err := mcpserver.New(mcpserver.Options{Version: "test", Store: store, Toolsets: tc.toolsets})
			if err != nil {
				t.Fatal(err)
			}
			c, err := client.NewInProcessClient(srv)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := mcp.InitializeRequest{}
			init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
			init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
			hello, err := c.Initialize(ctx, init)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tc.mention {
				if !strings.Contains(hello.Instructions, m) {
					t.Errorf("instructions lack %q:\n%s", m, hello.Instructions)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(hello.Instructions, a) {
					t.Errorf("instructions mention %q:\n%s", a, hello.Instructions)
				}
			}

			toolList, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range toolList.Tools {
				names = append(names, tool.Name)
			}
			slices.Sort(names)
			if want := slices.Sorted(slices.Values(tc.tools)); !slices.Equal(names, want) {
				t.Errorf("tools = %q, want %q", names, want)
			}

			templates, err := c.ListResourceTemplates(ctx, mcp.ListResourceTemplatesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tpl := range templates.ResourceTemplates {
				got = append(got, tpl.URITemplate.Raw())
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.templates) {
				t.Errorf("templates = %q, want %q", got, tc.templates)
			}

			list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for _, r := range list.Resources {
				got = append(got, strings.SplitN(r.URI, "://", 2)[0])
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.folders) {
				t.Errorf("resources/list schemes = %q, want %q", got, tc.folders)
			}

			prompts, err := c.ListPrompts(ctx, mcp.ListPromptsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for _, p := range prompts.Prompts {
				got = append(got, p.Name)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.prompts) {
				t.Errorf("prompts = %q, want %q", got, tc.prompts)
			}

			for _, uri := range tc.notServed {
				req := mcp.ReadResourceRequest{}
				req.Params.URI = uri
				if res, err := c.ReadResource(ctx, req); err == nil {
					t.Errorf("read %s of an area not served: %+v", uri, res.Contents)
				}
			}

			if slices.Contains(tc.prompts, "storage_overview") {
				req := mcp.GetPromptRequest{}
				req.Params.Name = "storage_overview"
				res, err := c.GetPrompt(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				text := res.Messages[0].Content.(mcp.TextContent).Text
				kv, r2 := store.Serves(storage.AreaKV), store.Serves(storage.AreaR2)
				if strings.Contains(text, "KV namespaces:") != kv || strings.Contains(text, "R2 buckets:") != r2 {
					t.Errorf("storage_overview surveys KV %v and R2 %v, want %v and %v:\n%s",
						strings.Contains(text, "KV namespaces:"), strings.Contains(text, "R2 buckets:"), kv, r2, text)
				}
			}
		})
	}
}
