package prompts_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/prompts"
)

func newSession(t *testing.T, dataDir string, policy storage.Policy) *mcptest.Session {
	t.Helper()
	srv, closeStore, err := mcptest.LocalServer(dataDir, policy, mcpserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeStore)
	return mcptest.InProcess(t, srv)
}

func getPrompt(s *mcptest.Session, name string, args map[string]string) (*mcp.GetPromptResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.GetPromptRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return s.Client.GetPrompt(ctx, req)
}

func text(t *testing.T, res *mcp.GetPromptResult) string {
	t.Helper()
	if len(res.Messages) != 1 || res.Messages[0].Role != mcp.RoleUser {
		t.Fatalf("messages = %+v", res.Messages)
	}
	tc, ok := res.Messages[0].Content.(mcp.TextContent)
	if !ok {
		t.Fatalf("content = %T", res.Messages[0].Content)
	}
	return tc.Text
}

// seed stores what the seed walk-through stores.
func seed(t *testing.T, s *mcptest.Session) (nsID string) {
	t.Helper()
	ns := s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "site-title", "value": "My Cloudflare Site"})
	s.OK("kv_put", map[string]any{"namespace": "site-config", "key": "cache:api-response", "value": "{}", "expiration_ttl": 3600})
	s.OK("create_kv_namespace", map[string]any{"title": "sessions"})
	s.OK("create_r2_bucket", map[string]any{"name": "my-assets", "jurisdiction": "eu"})
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "docs/README.md", "content": "# hi", "content_type": "text/markdown"})
	s.OK("r2_upload", map[string]any{"bucket": "my-assets", "key": "robots.txt", "content": "User-agent: *"})
	s.OK("create_r2_bucket", map[string]any{"name": "scratch"})
	return ns["id"].(string)
}

func TestPromptsListed(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.Client.ListPrompts(ctx, mcp.ListPromptsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]mcp.Prompt{}
	for _, p := range res.Prompts {
		got[p.Name] = p
	}
	if len(got) != 2 || got[prompts.StorageOverview].Description == "" {
		t.Fatalf("prompts = %+v", res.Prompts)
	}
	ww := got[prompts.WireWorker]
	if len(ww.Arguments) != 3 || ww.Arguments[0].Required || ww.Arguments[1].Required || ww.Arguments[2].Name != "database" {
		t.Fatalf("wire_worker arguments = %+v, want namespace, bucket and database, each optional", ww.Arguments)
	}
}

func TestStorageOverview(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	empty, err := getPrompt(s, prompts.StorageOverview, nil)
	if err != nil {
		t.Fatal(err)
	}
	if txt := text(t, empty); !strings.Contains(txt, "KV namespaces: 0") || !strings.Contains(txt, "R2 buckets: 0") || !strings.Contains(txt, "D1 databases: 0") {
		t.Errorf("empty survey:\n%s", txt)
	}

	id := seed(t, s)
	app := s.OK("create_d1_database", map[string]any{"name": "app-db"})
	s.OK("d1_query", map[string]any{"database": "app-db", "sql": `CREATE TABLE users (id); CREATE TABLE "orders ""2024""" (n)`})
	s.OK("create_d1_database", map[string]any{"name": "fresh"})
	res, err := getPrompt(s, prompts.StorageOverview, nil)
	if err != nil {
		t.Fatal(err)
	}
	txt := text(t, res)
	for _, want := range []string{
		"local backend",
		"KV namespaces: 2", `"site-config" (id ` + id, "kv://" + id + "/", "2 keys, 1 expiring", `"site-title"`, `"cache:api-response"`,
		`"sessions"`, "empty",
		"R2 buckets: 2", `"my-assets" (resource r2://my-assets/`, `"docs/"`, `"robots.txt" (13 B`, `"scratch"`,
		"D1 databases: 2", `"app-db" (id ` + app["id"].(string), "d1://" + app["id"].(string) + "/", `2 tables: "orders \"2024\"", "users"`,
		`"fresh"`, "no tables",
		"Summarise", "d1_query",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("the survey lacks %q:\n%s", want, txt)
		}
	}
}

// The survey is capped: a big account gives a prompt of bounded size.
func TestStorageOverviewIsCapped(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	for i := range 30 {
		s.OK("create_r2_bucket", map[string]any{"name": fmt.Sprintf("bucket-%02d", i)})
	}
	var entries []any
	for i := range 1200 {
		entries = append(entries, map[string]any{"key": fmt.Sprintf("%s-%04d", strings.Repeat("k", 200), i), "value": "v"})
	}
	s.OK("create_kv_namespace", map[string]any{"title": "big"})
	s.OK("kv_bulk_put", map[string]any{"namespace": "big", "entries": entries})
	res, err := getPrompt(s, prompts.StorageOverview, nil)
	if err != nil {
		t.Fatal(err)
	}
	txt := text(t, res)
	if !strings.Contains(txt, "1000+ keys") || !strings.Contains(txt, "R2 buckets: 30") || len(txt) > 20000 {
		t.Errorf("capped survey (%d bytes):\n%s", len(txt), txt)
	}
}

func TestWireWorker(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	id := seed(t, s)
	db := s.OK("create_d1_database", map[string]any{"name": "app-db"})
	s.OK("d1_query", map[string]any{"database": "app-db", "sql": "CREATE TABLE users (id)"})
	dbID := db["id"].(string)
	for _, nsRef := range []string{"site-config", id} {
		res, err := getPrompt(s, prompts.WireWorker, map[string]string{"namespace": nsRef, "bucket": "my-assets", "database": "app-db"})
		if err != nil {
			t.Fatal(err)
		}
		txt := text(t, res)
		for _, want := range []string{
			"[[kv_namespaces]]\nbinding = \"SITE_CONFIG\"\nid = \"" + id + "\"",
			"[[r2_buckets]]\nbinding = \"MY_ASSETS\"\nbucket_name = \"my-assets\"\njurisdiction = \"eu\"",
			"[[d1_databases]]\nbinding = \"APP_DB\"\ndatabase_name = \"app-db\"\ndatabase_id = \"" + dbID + "\"",
			`main = "src/index.ts"`, "compatibility_date = ",
			"SITE_CONFIG: KVNamespace", "MY_ASSETS: R2Bucket", "APP_DB: D1Database", "env.MY_ASSETS.get(key)", "env.SITE_CONFIG.get(key)",
			"env.APP_DB.prepare(", `tables "users"`,
			`"site-title"`, `"docs/README.md"`, "TypeScript",
			// Honest ids: the local store's ids are said to be local, with
			// how to make the real ones.
			"# NOT in your Cloudflare account", "NOT from my\nCloudflare account",
			"#   npx wrangler kv namespace create site-config,\n#   npx wrangler r2 bucket create my-assets,\n#   npx wrangler d1 create app-db\n",
		} {
			if !strings.Contains(txt, want) {
				t.Errorf("wire_worker(%s) lacks %q:\n%s", nsRef, want, txt)
			}
		}
		if strings.Contains(txt, "real ones of my") || strings.Contains(txt, "--remote") {
			t.Errorf("wire_worker on the local backend calls local ids real:\n%s", txt)
		}
		if !strings.Contains(res.Description, id) || !strings.Contains(res.Description, "local backend") {
			t.Errorf("description = %q", res.Description)
		}
	}
	// Any one of them alone.
	for arg, want := range map[string]string{"namespace": "SITE_CONFIG: KVNamespace }", "bucket": "MY_ASSETS: R2Bucket }", "database": "APP_DB: D1Database }"} {
		ref := map[string]string{"namespace": "site-config", "bucket": "my-assets", "database": "app-db"}[arg]
		res, err := getPrompt(s, prompts.WireWorker, map[string]string{arg: ref})
		if err != nil {
			t.Fatal(err)
		}
		if txt := text(t, res); !strings.Contains(txt, "interface Env { "+want) || strings.Count(txt, "binding = ") != 1 {
			t.Errorf("wire_worker(%s only):\n%s", arg, txt)
		}
	}
	// Unknown or missing arguments are invalid params (-32602), not
	// internal errors, and say which argument and why, once.
	for _, tc := range []struct {
		args map[string]string
		want string
	}{
		{map[string]string{"namespace": "no-such-namespace", "bucket": "my-assets"}, `not_found: namespace "no-such-namespace": no such KV namespace`},
		{map[string]string{"namespace": "site-config", "bucket": "no-such-bucket"}, `not_found: bucket "no-such-bucket": no such R2 bucket`},
		{map[string]string{"database": "no-such-db"}, `not_found`},
		{map[string]string{}, "invalid_argument: namespace: give at least one of namespace"},
	} {
		_, err := getPrompt(s, prompts.WireWorker, tc.args)
		if !errors.Is(err, mcp.ErrInvalidParams) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("wire_worker(%v): %v, want invalid params: %s", tc.args, err, tc.want)
		}
	}
}

// Same names for the namespace and the bucket still give distinct bindings.
func TestWireWorkerDistinctBindings(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	s.OK("create_kv_namespace", map[string]any{"title": "assets"})
	s.OK("create_r2_bucket", map[string]any{"name": "assets"})
	res, err := getPrompt(s, prompts.WireWorker, map[string]string{"namespace": "assets", "bucket": "assets"})
	if err != nil {
		t.Fatal(err)
	}
	txt := text(t, res)
	if !strings.Contains(txt, `binding = "ASSETS_KV"`) || !strings.Contains(txt, `binding = "ASSETS_BUCKET"`) {
		t.Errorf("bindings:\n%s", txt)
	}
}

func TestWireWorkerCompletionAndAllowLists(t *testing.T) {
	dir := t.TempDir()
	seed(t, newSession(t, dir, storage.Policy{}))
	s := newSession(t, dir, storage.Policy{Namespaces: []string{"site-config"}, Buckets: []string{"my-assets"}})
	complete := func(arg, value string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req := mcp.CompleteRequest{}
		req.Params.Ref = mcp.PromptReference{Type: "ref/prompt", Name: prompts.WireWorker}
		req.Params.Argument = mcp.CompleteArgument{Name: arg, Value: value}
		res, err := s.Client.Complete(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res.Completion.Values
	}
	if got := complete("namespace", "s"); len(got) != 1 || got[0] != "site-config" {
		t.Errorf("namespace s = %v (sessions is not allowed)", got)
	}
	if got := complete("bucket", ""); len(got) != 1 || got[0] != "my-assets" {
		t.Errorf("bucket = %v (scratch is not allowed)", got)
	}
	if _, err := getPrompt(s, prompts.WireWorker, map[string]string{"namespace": "sessions", "bucket": "my-assets"}); err == nil || !strings.Contains(err.Error(), "not_found") {
		t.Errorf("a hidden namespace: %v", err)
	}
	res, err := getPrompt(s, prompts.StorageOverview, nil)
	if err != nil {
		t.Fatal(err)
	}
	if txt := text(t, res); strings.Contains(txt, "sessions") || strings.Contains(txt, "scratch") {
		t.Errorf("the survey shows hidden storage:\n%s", txt)
	}
}
