package miniflare

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// The bindings of testdata/worker/wrangler.jsonc, as wrangler dev names
// them.
var (
	fixtureKV  = Namespace{ID: "0f2ac74b498b48028cb68387c421e279", Title: "KV"}
	fixtureKV2 = Namespace{ID: "seeded-before-dev", Title: "KV2"}
	fixtureDB  = Database{ID: "4f0b8a3e-2d1c-4e5f-9a6b-7c8d9e0f1a2b", Name: "fixture-db"}
	fixtureDB2 = Database{ID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", Name: "seeded-db"}
	fixture    = Bindings{
		KV: []Namespace{fixtureKV, fixtureKV2},
		R2: []Bucket{{Name: "fixture-bucket"}, {Name: "seeded-bucket"}},
		D1: []Database{fixtureDB, fixtureDB2},
	}
)

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, fixture, Options{ExplorerURL: "http://127.0.0.1:8787/cdn-cgi/explorer/api"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dev is a running `wrangler dev` of the fixture project.
type dev struct {
	*wranglertest.Dev
	t *testing.T
}

// startDev starts wrangler dev in project with its state in persist.
func startDev(t *testing.T, project, persist string) *dev {
	t.Helper()
	return &dev{Dev: wranglertest.Start(t, project, wranglertest.PersistTo(persist)), t: t}
}

// stop ends wrangler dev, and waits until no process holds its state any
// more (workerd may outlive wrangler for a moment).
func (d *dev) stop() {
	d.Stop()
	s, err := Open(d.PersistDir, Bindings{}, Options{})
	if err != nil {
		d.t.Fatal(err)
	}
	for i := 0; s.checkWritable() != nil; i++ {
		if i == 100 {
			d.t.Fatalf("wrangler dev stopped, but %v", s.checkWritable())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// do asks the fixture Worker to run one operation, and returns its answer.
func (d *dev) do(op map[string]any) map[string]any {
	d.t.Helper()
	js, _ := json.Marshal(op)
	res, err := http.Post(d.URL+"/", "application/json", bytes.NewReader(js))
	if err != nil {
		d.t.Fatalf("%v: %v", op["op"], err)
	}
	defer res.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		d.t.Fatalf("%v: decoding the answer: %v", op["op"], err)
	}
	if res.StatusCode != 200 {
		d.t.Fatalf("%v: %d %v\nwrangler output:\n%s", op["op"], res.StatusCode, out["error"], d.Output())
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64: %v", v)
	}
	return b
}

// pattern is the fixture Worker's pattern(n, seed).
func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((i*31 + seed) % 251)
	}
	return b
}

func readAll(t *testing.T, r io.ReadCloser) []byte {
	t.Helper()
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func kvGet(t *testing.T, s *Store, ns, key string) (*storage.KVValue, []byte) {
	t.Helper()
	v, err := s.KV().Get(context.Background(), ns, key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	return v, readAll(t, v.Body)
}

func mustCode(t *testing.T, err error, code storage.Code, contains ...string) {
	t.Helper()
	if storage.CodeOf(err) != code {
		t.Fatalf("got %v, want a %s error", err, code)
	}
	for _, c := range contains {
		if !strings.Contains(err.Error(), c) {
			t.Fatalf("error %q does not say %q", err, c)
		}
	}
}
