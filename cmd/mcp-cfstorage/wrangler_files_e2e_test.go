package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// TestWranglerFilesResources (issue 11 item 4): on the wrangler backend's
// files path (dev not running, an empty persist dir seeded through the
// tools), a real MCP client over stdio gets everything that is not a tool:
// resources/list (one folder per binding), r2://, kv:// and d1:// reads and
// folder listings, completions of every template argument, and both prompts,
// wire_worker naming the project's own bindings. No wrangler is needed.
func TestWranglerFilesResources(t *testing.T) {
	projectDir := wranglertest.CopyProject(t, "../../internal/wrangler/testdata/worker")
	persist := filepath.Join(t.TempDir(), "state")
	devURL := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	s := &proc{stderr: &lockedBuffer{}}
	inProject := transport.WithCommandFunc(func(_ context.Context, command string, env, args []string) (*exec.Cmd, error) {
		cmd := exec.Command(command, args...)
		cmd.Env, cmd.Dir, cmd.Stderr = env, projectDir, s.stderr
		return cmd, nil
	})
	c, err := client.NewStdioMCPClientWithOptions(binary, childEnv(t.TempDir()),
		[]string{"--backend", "wrangler", "--wrangler-url", devURL, "--persist-to", persist}, inProject)
	if err != nil {
		t.Fatal(err)
	}
	s.Session = mcptest.Connect(t, c)
	defer s.stop(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if w, _ := s.OK("whoami", nil)["wrangler"].(map[string]any); w["path"] != "files" {
		t.Fatalf("whoami: %v", w)
	}

	// Seeded through the backend, on its files path.
	nsID := s.OK("list_kv_namespaces", nil)["namespaces"].([]any)[0].(map[string]any)["id"].(string)
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "site-title", "value": "My Site"})
	s.OK("kv_put", map[string]any{"namespace": "CACHE", "key": "pages/home", "value": "<h1>home</h1>"})
	readme := "# assets\n"
	s.OK("r2_upload", map[string]any{"bucket": "fixture-assets", "key": "docs/README.md", "content": readme, "content_type": "text/markdown"})
	bin := []byte{0x89, 'P', 'N', 'G', 0, 0xff}
	s.OK("r2_upload", map[string]any{"bucket": "fixture-assets", "key": "images/logo.png", "content_base64": base64.StdEncoding.EncodeToString(bin), "content_type": "image/png"})
	s.OK("d1_query", map[string]any{"database": "fixture-db", "sql": "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('first'), ('second')"})

	all, err := s.Client.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, r := range all.Resources {
		uris = append(uris, r.URI)
	}
	slices.Sort(uris)
	if len(uris) != 3 || !strings.HasPrefix(uris[0], "d1://") || !strings.HasPrefix(uris[1], "kv://") || uris[2] != "r2://fixture-assets/" {
		t.Fatalf("resources/list = %v", uris)
	}

	read := func(uri string) mcp.ResourceContents {
		t.Helper()
		req := mcp.ReadResourceRequest{}
		req.Params.URI = uri
		res, err := s.Client.ReadResource(ctx, req)
		if err != nil || len(res.Contents) != 1 {
			t.Fatalf("read %s: %v", uri, err)
		}
		return res.Contents[0]
	}
	text := func(uri string) string {
		t.Helper()
		c, ok := read(uri).(mcp.TextResourceContents)
		if !ok {
			t.Fatalf("%s is not text: %+v", uri, c)
		}
		return c.Text
	}
	if c, ok := read("r2://fixture-assets/docs/README.md").(mcp.TextResourceContents); !ok || c.Text != readme || c.MIMEType != "text/markdown" {
		t.Errorf("README = %+v", c)
	}
	if c, ok := read("r2://fixture-assets/images/logo.png").(mcp.BlobResourceContents); !ok || c.Blob != base64.StdEncoding.EncodeToString(bin) || c.MIMEType != "image/png" {
		t.Errorf("logo = %+v", c)
	}
	for _, ns := range []string{"CACHE", nsID} {
		if got := text("kv://" + ns + "/site-title"); got != "My Site" {
			t.Errorf("kv://%s/site-title = %q", ns, got)
		}
	}
	if got := text(uris[1]); !strings.Contains(got, `"pages/home"`) || !strings.Contains(got, `"site-title"`) {
		t.Errorf("%s lists\n%s", uris[1], got)
	}
	var root struct {
		Folders []struct{ Name, URI string }
	}
	if err := json.Unmarshal([]byte(text("r2://fixture-assets/")), &root); err != nil || len(root.Folders) != 2 || root.Folders[0].URI != "r2://fixture-assets/docs/" {
		t.Errorf("r2://fixture-assets/ = %+v, %v", root, err)
	}
	if got := text(uris[0]); !strings.Contains(got, `"notes"`) || !strings.Contains(got, `"body"`) {
		t.Errorf("%s lists\n%s", uris[0], got)
	}
	if got := text("d1://fixture-db/notes"); !strings.Contains(got, `"first"`) || !strings.Contains(got, `"second"`) {
		t.Errorf("d1://fixture-db/notes =\n%s", got)
	}

	complete := func(tpl, arg, value string, context map[string]string) []string {
		t.Helper()
		req := mcp.CompleteRequest{}
		req.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: tpl}
		req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
		req.Params.Context = mcp.CompleteContext{Arguments: context}
		res, err := s.Client.Complete(ctx, req)
		if err != nil {
			t.Fatalf("complete %s %s: %v", tpl, arg, err)
		}
		return res.Completion.Values
	}
	for _, c := range []struct {
		tpl, arg, value string
		context         map[string]string
		want            string
	}{
		{"r2://{bucket}/{+key}", "bucket", "fix", nil, "fixture-assets"},
		{"r2://{bucket}/{+key}", "key", "docs/", map[string]string{"bucket": "fixture-assets"}, "docs/README.md"},
		{"kv://{namespace}/{+key}", "namespace", "", nil, "CACHE"},
		{"kv://{namespace}/{+key}", "key", "site", map[string]string{"namespace": "CACHE"}, "site-title"},
		{"d1://{database}/{table}", "database", "fix", nil, "fixture-db"},
		{"d1://{database}/{table}", "table", "no", map[string]string{"database": "fixture-db"}, "notes"},
	} {
		if got := complete(c.tpl, c.arg, c.value, c.context); !slices.Contains(got, c.want) {
			t.Errorf("complete %s %s %q = %v, want %s among them", c.tpl, c.arg, c.value, got, c.want)
		}
	}

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
	ww := prompt("wire_worker", map[string]string{"namespace": "CACHE", "bucket": "fixture-assets", "database": "fixture-db"})
	for _, want := range []string{"already binds them", "binding CACHE", "binding ASSETS", "binding DB", "wrangler.jsonc"} {
		if !strings.Contains(ww, want) {
			t.Errorf("wire_worker does not say %q:\n%s", want, ww)
		}
	}
	if ov := prompt("storage_overview", nil); !strings.Contains(ov, "site-title") || !strings.Contains(ov, "fixture-assets") || !strings.Contains(ov, "notes") {
		t.Errorf("storage_overview:\n%s", ov)
	}
}
