package wrangler_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/miniflare"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/wranglertest"
)

// TestMiniflareBindings: the persisted state is keyed by the ids and names
// wrangler dev uses (preview ?? id ?? binding), and a database is named as
// the backend lists it.
func TestMiniflareBindings(t *testing.T) {
	p := &wrangler.Project{
		KV: []wrangler.KVBinding{{Binding: "A", ID: "id-a", PreviewID: "prev-a"}, {Binding: "B", ID: "id-b"}, {Binding: "C"}},
		R2: []wrangler.R2Binding{{Binding: "F", BucketName: "files", PreviewBucketName: "files-preview"}, {Binding: "G"}},
		D1: []wrangler.D1Binding{{Binding: "DB", DatabaseName: "app", DatabaseID: "id-db"}, {Binding: "DB2"}},
	}
	got := wrangler.MiniflareBindings(p)
	want := miniflare.Bindings{
		KV: []miniflare.Namespace{{ID: "prev-a", Title: "A"}, {ID: "id-b", Title: "B"}, {ID: "C", Title: "C"}},
		R2: []miniflare.Bucket{{Name: "files-preview"}, {Name: "G"}},
		D1: []miniflare.Database{{ID: "id-db", Name: "app"}, {ID: "DB2", Name: "db2"}},
	}
	if !equalBindings(got, want) {
		t.Errorf("MiniflareBindings = %+v, want %+v", got, want)
	}
}

func equalBindings(a, b miniflare.Bindings) bool {
	if len(a.KV) != len(b.KV) || len(a.R2) != len(b.R2) || len(a.D1) != len(b.D1) {
		return false
	}
	for i := range a.KV {
		if a.KV[i] != b.KV[i] {
			return false
		}
	}
	for i := range a.R2 {
		if a.R2[i] != b.R2[i] {
			return false
		}
	}
	for i := range a.D1 {
		if a.D1[i] != b.D1[i] {
			return false
		}
	}
	return true
}

// TestOpenFiles: with dev not running, the backend wired as the binary
// wires it goes through the persisted state: a KV value, an R2 object and
// D1 rows written through it land under the persist dir (in Miniflare's
// layout) and read back; whoami's path is "files".
func TestOpenFiles(t *testing.T) {
	ctx := context.Background()
	dir := project(t, "wrangler.jsonc", bareJSONC)
	persist := filepath.Join(t.TempDir(), "state")
	u := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	b, err := wrangler.New(wrangler.Options{Dir: dir, URL: u, PersistTo: persist, Files: wrangler.OpenFiles(nil)})
	if err != nil {
		t.Fatal(err)
	}
	st := storage.Guard(b, storage.Policy{})
	if d, err := b.Describe(ctx); err != nil || d.Wrangler.Path != "files" || d.Wrangler.PersistDir != persist {
		t.Fatalf("Describe = %+v, %v", d.Wrangler, err)
	}
	ns, err := st.Namespace(ctx, "CACHE")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.KV().Put(ctx, ns.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	v, err := st.KV().Get(ctx, ns.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(v.Body)
	v.Body.Close()
	if string(got) != "v" {
		t.Errorf("Get = %q", got)
	}
	if _, err := st.R2().PutObject(ctx, storage.ObjectPut{Bucket: "files", Key: "a b", Body: strings.NewReader("obj"), Size: 3}); err != nil {
		t.Fatal(err)
	}
	if info, err := st.R2().HeadObject(ctx, "files", "a b"); err != nil || info.Size != 3 {
		t.Errorf("HeadObject = %+v, %v", info, err)
	}
	db, err := st.Database(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.D1().Query(ctx, db.ID, []storage.Statement{{SQL: "CREATE TABLE t (x)"}, {SQL: "INSERT INTO t VALUES (?)", Params: []any{"y"}}, {SQL: "SELECT x FROM t"}}, storage.QueryOptions{})
	if err != nil || len(res) != 3 || len(res[2].Rows) != 1 || res[2].Rows[0][0] != "y" {
		t.Errorf("Query = %+v, %v", res, err)
	}
	for _, area := range []string{"kv", "r2", "d1"} {
		if _, err := os.Stat(filepath.Join(persist, "v3", area)); err != nil {
			t.Errorf("nothing written under v3/%s: %v", area, err)
		}
	}
}

// TestOpenFilesRefused: a persist dir that is not Miniflare's is an error
// naming it at the call (never a nil store called), and whoami says why.
func TestOpenFilesRefused(t *testing.T) {
	ctx := context.Background()
	persist := t.TempDir()
	if err := os.WriteFile(filepath.Join(persist, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	u := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	b, err := wrangler.New(wrangler.Options{Dir: project(t, "wrangler.jsonc", bareJSONC), URL: u, PersistTo: persist, Files: wrangler.OpenFiles(nil)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := b.KV().Get(ctx, "CACHE", "k")
		if !errors.Is(err, storage.ErrInvalidArgument) || !strings.Contains(err.Error(), persist) {
			t.Errorf("Get: %v", err)
		}
	}
	if d, _ := b.Describe(ctx); !strings.HasPrefix(d.Wrangler.Path, "unavailable") || !strings.Contains(d.Wrangler.Path, persist) {
		t.Errorf("Describe path %q", d.Wrangler.Path)
	}
	if _, err := os.Stat(filepath.Join(persist, "v3")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a v3 folder appeared in a directory that is not Miniflare's: %v", err)
	}
}

// TestFilesWhileDevElsewhere: with dev running but not where the backend
// looks (--wrangler-url names a free port), the files path reads what the
// Worker wrote without blocking it, and refuses a write with conflict
// naming the URL and the fix, rather than racing the Worker's files.
func TestFilesWhileDevElsewhere(t *testing.T) {
	dev := wranglertest.Start(t, wranglertest.CopyProject(t, "testdata/worker"))
	req, _ := http.NewRequest(http.MethodPut, dev.URL+"/kv?key=by-worker", strings.NewReader("from the Worker"))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("the Worker's write: %v %v", resp, err)
	}
	u := "http://127.0.0.1:" + strconv.Itoa(wranglertest.FreePort(t))
	b, err := wrangler.New(wrangler.Options{Dir: dev.ProjectDir, URL: u, PersistTo: dev.PersistDir, Files: wrangler.OpenFiles(nil)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := b.KV().Get(ctx, "CACHE", "by-worker")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	got, _ := io.ReadAll(v.Body)
	v.Body.Close()
	if string(got) != "from the Worker" {
		t.Errorf("Get = %q", got)
	}
	err = b.KV().Put(ctx, "CACHE", storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1})
	if !errors.Is(err, storage.ErrConflict) || !strings.Contains(err.Error(), u) || !strings.Contains(err.Error(), "--wrangler-url") {
		t.Errorf("Put while dev runs elsewhere: %v", err)
	}
	if resp, err := http.Get(dev.URL + "/kv?key=k"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("the refused write reached the Worker: %v %v", resp, err)
	}
}
