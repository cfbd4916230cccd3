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
