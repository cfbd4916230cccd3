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
	s := startWranglerFiles(t)
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

// startWranglerFiles starts the built binary in a copy of the fixture
// Worker project, on the wrangler backend with dev not running: its files
// path, on an empty persist dir.
func startWranglerFiles(t *testing.T, opts ...client.ClientOption) *proc {
	t.Helper()
	projectDir := wranglertest.CopyProject(t, "../../internal/wrangler/testdata/worker")
	persist := filepath.Join(t.TempDir(), "state")
	devURL := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	s := &proc{stderr: &mcptest.Output{}}
	inProject := transport.WithCommandFunc(func(_ context.Context, command string, env, args []string) (*exec.Cmd, error) {
		cmd := exec.Command(command, args...)
		cmd.Env, cmd.Dir, cmd.Stderr = env, projectDir, s.stderr
		return cmd, nil
	})
	tr := transport.NewStdioWithOptions(binary, childEnv(t.TempDir()),
		[]string{"--backend", "wrangler", "--wrangler-url", devURL, "--persist-to", persist}, inProject)
	s.Session = mcptest.Connect(t, client.NewClient(tr, opts...))
	t.Cleanup(func() { s.stop(t) })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

// TestWranglerFilesEveryTool (issue 11 item 4): every tool the server lists
// answers on the wrangler backend's files path, through a real MCP client:
// the data tools work on the project's bindings; creating and deleting a
// namespace, bucket or database, renaming a namespace and presigning
// answer unsupported. A tool added later and missing here fails the test.
func TestWranglerFilesEveryTool(t *testing.T) {
	s := startWranglerFiles(t)
	ctx := context.Background()
	b64 := base64.StdEncoding.EncodeToString
	calls := []struct {
		tool string
		args map[string]any
		code string // "" for success
	}{
		{"whoami", nil, ""},
		{"list_kv_namespaces", nil, ""},
		{"create_kv_namespace", map[string]any{"title": "sessions"}, "unsupported"},
		{"rename_kv_namespace", map[string]any{"namespace": "CACHE", "title": "other"}, "unsupported"},
		{"delete_kv_namespace", map[string]any{"namespace": "CACHE", "confirm": "CACHE"}, "unsupported"},
		{"kv_put", map[string]any{"namespace": "CACHE", "key": "a", "value": "1", "expiration_ttl": 3600}, ""},
		{"kv_get", map[string]any{"namespace": "CACHE", "key": "a"}, ""},
		{"kv_list", map[string]any{"namespace": "CACHE"}, ""},
		{"kv_bulk_put", map[string]any{"namespace": "CACHE", "entries": []any{map[string]any{"key": "b", "value": "2"}, map[string]any{"key": "c", "value": b64([]byte{0}), "base64": true}}}, ""},
		{"kv_bulk_get", map[string]any{"namespace": "CACHE", "keys": []any{"a", "b", "missing"}}, ""},
		{"kv_bulk_delete", map[string]any{"namespace": "CACHE", "keys": []any{"b", "c"}}, ""},
		{"kv_delete", map[string]any{"namespace": "CACHE", "key": "a"}, ""},
		{"list_r2_buckets", nil, ""},
		{"create_r2_bucket", map[string]any{"name": "media"}, "unsupported"},
		{"delete_r2_bucket", map[string]any{"bucket": "fixture-assets", "confirm": "fixture-assets"}, "unsupported"},
		{"r2_upload", map[string]any{"bucket": "fixture-assets", "key": "x/1.txt", "content": "one", "cache_control": "no-cache"}, ""},
		{"r2_head", map[string]any{"bucket": "fixture-assets", "key": "x/1.txt"}, ""},
		{"r2_download", map[string]any{"bucket": "fixture-assets", "key": "x/1.txt"}, ""},
		{"r2_copy", map[string]any{"source_bucket": "fixture-assets", "source_key": "x/1.txt", "bucket": "fixture-assets", "key": "x/2.txt"}, ""},
		{"r2_list", map[string]any{"bucket": "fixture-assets", "prefix": "x/"}, ""},
		{"r2_presign", map[string]any{"bucket": "fixture-assets", "key": "x/1.txt"}, "unsupported"},
		{"r2_delete", map[string]any{"bucket": "fixture-assets", "keys": []any{"x/1.txt", "x/2.txt"}}, ""},
		{"list_d1_databases", nil, ""},
		{"create_d1_database", map[string]any{"name": "shop"}, "unsupported"},
		{"delete_d1_database", map[string]any{"database": "fixture-db", "confirm": "fixture-db"}, "unsupported"},
		{"d1_query", map[string]any{"database": "fixture-db", "sql": "CREATE TABLE t (x); INSERT INTO t VALUES (1); SELECT x FROM t"}, ""},
	}
	listed, err := s.Client.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var offered, covered []string
	for _, tool := range listed.Tools {
		offered = append(offered, tool.Name)
	}
	for _, c := range calls {
		covered = append(covered, c.tool)
		if c.code == "" {
			s.OK(c.tool, c.args)
		} else {
			s.Fail(c.tool, c.args, c.code)
		}
	}
	slices.Sort(offered)
	slices.Sort(covered)
	if !slices.Equal(offered, covered) {
		t.Errorf("tools offered %v\nbut this test calls %v", offered, covered)
	}
	// What the calls left is what the tools read back.
	if l := s.OK("kv_list", map[string]any{"namespace": "CACHE"}); len(l["keys"].([]any)) != 0 {
		t.Errorf("kv_list after the deletes = %v", l)
	}
	if l := s.OK("r2_list", map[string]any{"bucket": "fixture-assets"}); len(l["objects"].([]any)) != 0 {
		t.Errorf("r2_list after the deletes = %v", l)
	}
	if w, _ := s.OK("whoami", nil)["wrangler"].(map[string]any); w["path"] != "files" {
		t.Errorf("whoami: %v", w)
	}
}

// A delete the wrangler backend cannot do is refused before anyone is
// asked: a client with elicitation sees no form, and the answer names the
// binding to remove from the config.
func TestWranglerDeletesNeverAsk(t *testing.T) {
	e := &elicitor{}
	e.set(mcp.ElicitationResponseActionAccept)
	s := startWranglerFiles(t, client.WithElicitationHandler(e))
	for tool, args := range map[string]map[string]any{
		"delete_kv_namespace": {"namespace": "CACHE"},
		"delete_r2_bucket":    {"bucket": "fixture-assets"},
		"delete_d1_database":  {"database": "fixture-db"},
	} {
		msg := s.Fail(tool, args, "unsupported")
		if !strings.Contains(msg, "remove the binding") {
			t.Errorf("%s: %q does not say which binding to remove", tool, msg)
		}
	}
	if shown := e.shown(); len(shown) != 0 {
		t.Errorf("the user was asked about deletes that cannot happen: %q", shown)
	}
}
