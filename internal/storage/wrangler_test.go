package storage_test

import (
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestBindingName(t *testing.T) {
	for title, want := range map[string]string{
		"site-config": "SITE_CONFIG", "my assets!": "MY_ASSETS", "2026 logs": "KV_2026_LOGS", "---": "KV", "Ünïcode x": "N_CODE_X",
	} {
		if got := storage.BindingName(title, "KV"); got != want {
			t.Errorf("BindingName(%q) = %q, want %q", title, got, want)
		}
	}
}

func TestBindingTOML(t *testing.T) {
	if got, want := storage.KVBindingTOML("SITE_CONFIG", "0123"), "[[kv_namespaces]]\nbinding = \"SITE_CONFIG\"\nid = \"0123\"\n"; got != want {
		t.Errorf("KV block = %q, want %q", got, want)
	}
	eu := storage.R2BindingTOML("ASSETS", storage.Bucket{Name: "assets", Jurisdiction: "eu"})
	if want := "[[r2_buckets]]\nbinding = \"ASSETS\"\nbucket_name = \"assets\"\njurisdiction = \"eu\"\n"; eu != want {
		t.Errorf("R2 block = %q, want %q", eu, want)
	}
	if def := storage.R2BindingTOML("A", storage.Bucket{Name: "a", Jurisdiction: "default"}); def != "[[r2_buckets]]\nbinding = \"A\"\nbucket_name = \"a\"\n" {
		t.Errorf("default jurisdiction block = %q", def)
	}
}

// TestBindingBlocksWithoutIDs: wrangler dev keys a binding without an id by
// its name, so the wrangler backend suggests blocks without one; the JSON
// forms are for wrangler.json(c) projects.
func TestBindingBlocksWithoutIDs(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{storage.KVBindingTOML("CACHE", ""), "[[kv_namespaces]]\nbinding = \"CACHE\"\n"},
		{storage.D1BindingTOML("DB", storage.Database{Name: "db"}), "[[d1_databases]]\nbinding = \"DB\"\ndatabase_name = \"db\"\n"},
		{storage.KVBindingJSON("CACHE", ""), `"kv_namespaces": [{ "binding": "CACHE" }]`},
		{storage.KVBindingJSON("CACHE", "0123"), `"kv_namespaces": [{ "binding": "CACHE", "id": "0123" }]`},
		{storage.R2BindingJSON("A", storage.Bucket{Name: "a", Jurisdiction: "eu"}), `"r2_buckets": [{ "binding": "A", "bucket_name": "a", "jurisdiction": "eu" }]`},
		{storage.R2BindingJSON("A", storage.Bucket{Name: "a", Jurisdiction: "default"}), `"r2_buckets": [{ "binding": "A", "bucket_name": "a" }]`},
		{storage.D1BindingJSON("DB", storage.Database{Name: "db"}), `"d1_databases": [{ "binding": "DB", "database_name": "db" }]`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestWorkerTOMLAndConfigNote(t *testing.T) {
	kv, r2 := storage.KVBindingTOML("KV", "0123"), storage.R2BindingTOML("B", storage.Bucket{Name: "b"})
	if got, want := storage.WorkerTOML("w", "2026-01-02", "", kv, r2),
		"name = \"w\"\nmain = \"src/index.ts\"\ncompatibility_date = \"2026-01-02\"\n\n[[kv_namespaces]]\nbinding = \"KV\"\nid = \"0123\"\n\n[[r2_buckets]]\nbinding = \"B\"\nbucket_name = \"b\"\n"; got != want {
		t.Errorf("WorkerTOML = %q, want %q", got, want)
	}
	if n := storage.ConfigNote("cloudflare", storage.CreateKVCommand("x")); n != "" {
		t.Errorf("ConfigNote(cloudflare) = %q: real ids need no note", n)
	}
	local := storage.ConfigNote("local", storage.CreateKVCommand("site config"), storage.CreateD1Command("db"))
	for _, want := range []string{"# NOT in your Cloudflare account", "#   npx wrangler kv namespace create 'site config',\n", "#   npx wrangler d1 create db\n"} {
		if !strings.Contains(local, want) {
			t.Errorf("ConfigNote(local) lacks %q:\n%s", want, local)
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(local, "\n"), "\n") {
		if !strings.HasPrefix(line, "#") {
			t.Errorf("ConfigNote line %q is not a TOML comment", line)
		}
	}
	if got := storage.CreateR2Command("it's"); got != `npx wrangler r2 bucket create 'it'\''s'` {
		t.Errorf("CreateR2Command = %q", got)
	}
}
