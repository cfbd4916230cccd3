package prompts_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/fsroot"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler"
	"github.com/mcp-cfstorage/mcp-cfstorage/prompts"
)

// sessionOn is a client of the real server on backend.
func sessionOn(t *testing.T, backend storage.Backend) *mcptest.Session {
	t.Helper()
	t.Cleanup(func() { backend.Close() })
	roots, err := fsroot.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mcpserver.New(mcpserver.Options{Version: "test", Store: storage.Guard(backend, storage.Policy{}), Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	return mcptest.InProcess(t, srv)
}

// On the cloudflare backend the ids are the account's real ones: the
// config carries them with no warning, and says whose they are.
func TestWireWorkerCloudflareIDsAreReal(t *testing.T) {
	api := cffake.Start(t)
	b, err := cf.New(cf.Config{APIToken: cffake.DefaultToken, BaseURL: api.BaseURL(), R2Endpoint: "http://127.0.0.1:1",
		Retry: cf.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	s := sessionOn(t, b)
	ns := s.OK("create_kv_namespace", map[string]any{"title": "site-config"})
	if toml := ns["wrangler_toml"].(string); strings.Contains(toml, "#") || !strings.Contains(toml, ns["id"].(string)) {
		t.Errorf("create_kv_namespace on cloudflare: wrangler_toml\n%s\nwant the real id and no note", toml)
	}
	db := s.OK("create_d1_database", map[string]any{"name": "app-db"})
	res, err := getPrompt(s, prompts.WireWorker, map[string]string{"namespace": "site-config", "database": "app-db"})
	if err != nil {
		t.Fatal(err)
	}
	txt := text(t, res)
	for _, want := range []string{
		"the real ones of my Cloudflare account (" + cffake.DefaultAccountID + ")",
		"id = \"" + ns["id"].(string) + "\"", "database_id = \"" + db["id"].(string) + "\"", "wrangler dev --remote",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("wire_worker on cloudflare lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "NOT") || strings.Contains(txt, "# ") {
		t.Errorf("wire_worker on cloudflare warns about real ids:\n%s", txt)
	}
}

// On the local backend, create_* say in their config block that the id
// exists only here, and how to create the real one.
func TestCreateConfigBlocksSayLocalIDsAreLocal(t *testing.T) {
	s := newSession(t, t.TempDir(), storage.Policy{})
	for _, c := range []struct {
		tool, name, block, create string
	}{
		{"create_kv_namespace", "site config", "[[kv_namespaces]]", "npx wrangler kv namespace create 'site config'"},
		{"create_r2_bucket", "my-assets", "[[r2_buckets]]", "npx wrangler r2 bucket create my-assets"},
		{"create_d1_database", "app-db", "[[d1_databases]]", "npx wrangler d1 create app-db"},
	} {
		arg := "name"
		if c.tool == "create_kv_namespace" {
			arg = "title"
		}
		toml := s.OK(c.tool, map[string]any{arg: c.name})["wrangler_toml"].(string)
		if !strings.HasPrefix(toml, "# NOT in your Cloudflare account") || !strings.Contains(toml, c.create) || !strings.Contains(toml, "\n"+c.block) {
			t.Errorf("%s on the local backend: wrangler_toml\n%s\nwant a note that the id is local, naming %q", c.tool, toml, c.create)
		}
	}
}

// On the wrangler backend the prompt binds through the project's own config:
// its binding names, no new config, no invented ids.
func TestWireWorkerWranglerUsesProjectBindings(t *testing.T) {
	dir := t.TempDir()
	config := `name = "shop"
[[kv_namespaces]]
binding = "CACHE"
id = "0123456789abcdef0123456789abcdef"

[[r2_buckets]]
binding = "ASSETS"
bucket_name = "shop-assets"

[[d1_databases]]
binding = "DB"
database_name = "shop-db"
database_id = "11111111-2222-4333-8444-555555555555"
`
	if err := os.WriteFile(filepath.Join(dir, "wrangler.toml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	// dev does not run: the backend goes through a new, empty persisted state.
	b, err := wrangler.New(wrangler.Options{Dir: dir, URL: "http://127.0.0.1:1",
		PersistTo: filepath.Join(t.TempDir(), "state"), Files: wrangler.OpenFiles(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	s := sessionOn(t, b)
	res, err := getPrompt(s, prompts.WireWorker, map[string]string{"namespace": "CACHE", "bucket": "shop-assets", "database": "shop-db"})
	if err != nil {
		t.Fatal(err)
	}
	txt := text(t, res)
	for _, want := range []string{
		filepath.Join(dir, "wrangler.toml"), "already binds them",
		"- KV: binding CACHE", "- R2: binding ASSETS", "- D1: binding DB",
		"CACHE: KVNamespace; ASSETS: R2Bucket; DB: D1Database", "env.CACHE.get(key)", "env.ASSETS.get(key)", "env.DB.prepare(",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("wire_worker on wrangler lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "```toml") || strings.Contains(txt, "SHOP_ASSETS") || strings.Contains(txt, "NOT") {
		t.Errorf("wire_worker on wrangler drafts its own config:\n%s", txt)
	}
}
