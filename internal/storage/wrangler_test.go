package storage_test

import (
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
