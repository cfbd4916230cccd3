package wrangler

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadProject: the three formats wrangler reads, env blocks (whose
// bindings are not inherited from the top level), dev.port, and the ids dev
// uses (preview ?? id ?? binding).
func TestLoadProject(t *testing.T) {
	const jsonc = `// comments and trailing commas, as wrangler accepts
{
  "name": "shop",
  "dev": {"port": 9000},
  /* block comment */
  "kv_namespaces": [
    {"binding": "CACHE", "id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "preview_id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
    {"binding": "BARE"},
    {"binding": "FAR", "id": "cccccccccccccccccccccccccccccccc", "remote": true},
  ],
  "r2_buckets": [
    {"binding": "ASSETS", "bucket_name": "shop-assets"},
    {"binding": "PREV", "bucket_name": "prod", "preview_bucket_name": "prod-preview",},
    {"binding": "NONAME"},
  ],
  "d1_databases": [
    {"binding": "DB", "database_name": "shop-db", "database_id": "6f1d7c2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f"},
    {"binding": "PDB", "database_name": "p", "database_id": "x", "preview_database_id": "y"},
  ],
  "env": {
    "staging": {
      "kv_namespaces": [{"binding": "CACHE", "id": "dddddddddddddddddddddddddddddddd"}],
    },
    "empty": {},
  },
}`
	const toml = `
name = "shop"
[dev]
port = 9000

[[kv_namespaces]]
binding = "CACHE"
id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
preview_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

[[kv_namespaces]]
binding = "BARE"

[[kv_namespaces]]
binding = "FAR"
id = "cccccccccccccccccccccccccccccccc"
remote = true

[[r2_buckets]]
binding = "ASSETS"
bucket_name = "shop-assets"

[[r2_buckets]]
binding = "PREV"
bucket_name = "prod"
preview_bucket_name = "prod-preview"

[[r2_buckets]]
binding = "NONAME"

[[d1_databases]]
binding = "DB"
database_name = "shop-db"
database_id = "6f1d7c2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f"

[[d1_databases]]
binding = "PDB"
database_name = "p"
database_id = "x"
preview_database_id = "y"

[[env.staging.kv_namespaces]]
binding = "CACHE"
id = "dddddddddddddddddddddddddddddddd"

[env.empty]
`
	type want struct {
		kv, r2, d1 []string // dev ids / names
		remote     []string
		url        string
	}
	top := want{
		kv:     []string{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "BARE"},
		r2:     []string{"shop-assets", "prod-preview", "NONAME"},
		d1:     []string{"6f1d7c2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f", "y"},
		remote: []string{"FAR"},
		url:    "http://127.0.0.1:9000",
	}
	staging := want{kv: []string{"dddddddddddddddddddddddddddddddd"}, url: "http://127.0.0.1:9000"}
	empty := want{url: "http://127.0.0.1:9000"}
	for _, tc := range []struct {
		file, body, env string
		want            want
	}{
		{"wrangler.jsonc", jsonc, "", top},
		{"wrangler.json", jsonc, "", top}, // wrangler reads .json as JSONC too
		{"wrangler.toml", toml, "", top},
		{"wrangler.jsonc", jsonc, "staging", staging},
		{"wrangler.toml", toml, "staging", staging},
		{"wrangler.jsonc", jsonc, "empty", empty},
		{"wrangler.toml", toml, "empty", empty},
		{"wrangler.toml", `[[kv_namespaces]]
binding = "K"
id = "k"
[dev]
ip = "::1"`, "", want{kv: []string{"k"}, url: "http://[::1]:8787"}},
		// No env blocks at all: wrangler warns and uses the top level.
		{"wrangler.toml", "[[kv_namespaces]]\nbinding = \"K\"\n", "nope", want{kv: []string{"K"}, url: "http://127.0.0.1:8787"}},
	} {
		t.Run(tc.file+"/"+tc.env, func(t *testing.T) {
			p, err := LoadProject(writeConfig(t, tc.file, tc.body), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			var kv, r2, d1 []string
			for _, b := range p.KV {
				kv = append(kv, b.DevID())
			}
			for _, b := range p.R2 {
				r2 = append(r2, b.DevName())
			}
			for _, b := range p.D1 {
				d1 = append(d1, b.DevID())
			}
			got := want{kv: kv, r2: r2, d1: d1, remote: p.Remote, url: p.DevURL()}
			if strings.Join(got.kv, ",") != strings.Join(tc.want.kv, ",") ||
				strings.Join(got.r2, ",") != strings.Join(tc.want.r2, ",") ||
				strings.Join(got.d1, ",") != strings.Join(tc.want.d1, ",") ||
				strings.Join(got.remote, ",") != strings.Join(tc.want.remote, ",") ||
				got.url != tc.want.url {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			if tc.env == "" && tc.want.url == top.url {
				if p.Name != "shop" || !p.HasBindings() {
					t.Errorf("Name %q HasBindings %v", p.Name, p.HasBindings())
				}
			}
		})
	}
}

// TestProjectResolve: every id and name of a binding finds it; what is not
// one of the config's finds nothing (remote bindings included).
func TestProjectResolve(t *testing.T) {
	p, err := LoadProject(writeConfig(t, "wrangler.jsonc", `{
	  "kv_namespaces": [{"binding": "CACHE", "id": "i", "preview_id": "pi"}, {"binding": "FAR", "id": "far", "remote": true}],
	  "r2_buckets": [{"binding": "ASSETS", "bucket_name": "b", "preview_bucket_name": "pb"}],
	  "d1_databases": [{"binding": "DB", "database_name": "n", "database_id": "d", "preview_database_id": "pd"}],
	}`), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"pi", "i", "CACHE"} {
		if b, ok := p.KVNamespace(ref); !ok || b.DevID() != "pi" {
			t.Errorf("KVNamespace(%q) = %+v, %v", ref, b, ok)
		}
	}
	for _, ref := range []string{"pb", "b", "ASSETS"} {
		if b, ok := p.R2Bucket(ref); !ok || b.DevName() != "pb" {
			t.Errorf("R2Bucket(%q) = %+v, %v", ref, b, ok)
		}
	}
	for _, ref := range []string{"pd", "d", "n", "DB"} {
		if b, ok := p.D1Database(ref); !ok || b.DevID() != "pd" {
			t.Errorf("D1Database(%q) = %+v, %v", ref, b, ok)
		}
	}
	for _, ref := range []string{"", "far", "FAR", "other"} {
		if _, ok := p.KVNamespace(ref); ok {
			t.Errorf("KVNamespace(%q) found a binding", ref)
		}
		if _, ok := p.R2Bucket(ref); ok {
			t.Errorf("R2Bucket(%q) found a binding", ref)
		}
		if _, ok := p.D1Database(ref); ok {
			t.Errorf("D1Database(%q) found a binding", ref)
		}
	}
}

// TestLoadProjectErrors: bad input is an error naming the file, the field
// and the fix.
func TestLoadProjectErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, body, env string
		want                  []string
	}{
		{"broken jsonc", "wrangler.jsonc", `{"kv_namespaces": [`, "", []string{"wrangler.jsonc is not valid JSON", "fix the file"}},
		{"broken toml", "wrangler.toml", "[[kv_namespaces]\n", "", []string{"wrangler.toml is not valid TOML"}},
		{"wrong type", "wrangler.json", `{"kv_namespaces": {"binding": "X"}}`, "", []string{"wrangler.json", "kv_namespaces"}},
		{"no binding kv", "wrangler.jsonc", `{"kv_namespaces": [{"id": "x"}]}`, "", []string{"wrangler.jsonc", `kv_namespaces[0] has no "binding"`, `"binding": "MY_KV"`}},
		{"no binding r2", "wrangler.toml", "[[r2_buckets]]\nbucket_name = \"b\"\n", "", []string{"wrangler.toml", `r2_buckets[0] has no "binding"`}},
		{"no binding d1 in env", "wrangler.jsonc", `{"env": {"s": {"d1_databases": [{"database_id": "x"}]}}}`, "s", []string{`env.s.d1_databases[0] has no "binding"`}},
		{"duplicate", "wrangler.jsonc", `{"kv_namespaces": [{"binding": "X"}], "r2_buckets": [{"binding": "X"}]}`, "", []string{`r2_buckets[0]: binding "X" is also kv_namespaces[0]`}},
		{"unknown env", "wrangler.jsonc", `{"env": {"staging": {}, "prod": {}}}`, "dev", []string{`no environment "dev"`, "prod, staging", "--wrangler-env"}},
		{"bad port", "wrangler.jsonc", `{"dev": {"port": 70000}}`, "", []string{"dev.port 70000"}},
		{"bad extension", "wrangler.yaml", `x: 1`, "", []string{"must end in .jsonc, .json or .toml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.file, tc.body)
			_, err := LoadProject(path, tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append([]string{path}, tc.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	missing := filepath.Join(t.TempDir(), "wrangler.toml")
	if _, err := LoadProject(missing, ""); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--wrangler-config") {
		t.Errorf("missing config: %v", err)
	}
}

// TestFindConfig: wrangler's order (json, jsonc, toml); none is ErrNotExist.
func TestFindConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := FindConfig(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("empty dir: %v", err)
	}
	for _, name := range []string{"wrangler.toml", "wrangler.jsonc", "wrangler.json"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := FindConfig(dir)
		if err != nil || filepath.Base(got) != name {
			t.Errorf("with %s added: %q, %v", name, got, err)
		}
	}
}

// TestFixtureConfig: the fixture Worker's JSONC config parses to the
// bindings its wrangler dev shows.
func TestFixtureConfig(t *testing.T) {
	p, err := LoadProject("testdata/worker/wrangler.jsonc", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.KV) != 1 || p.KV[0].DevID() != "0f2ac74b498b48028cb68387c421e279" || p.KV[0].Binding != "CACHE" ||
		len(p.R2) != 1 || p.R2[0].DevName() != "fixture-assets" ||
		len(p.D1) != 1 || p.D1[0].DevID() != "6f1d7c2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f" {
		t.Errorf("fixture bindings: %+v", p)
	}
}
