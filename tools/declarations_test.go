package tools_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/local"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcpserver"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/tools"
)

var update = flag.Bool("update", false, "rewrite the schema snapshots in testdata/schemas")

// Every tool a client sees carries all four annotations explicitly: leaving
// one out would let clients fall back on "destructive, not read-only".
func TestEveryToolSetsAllFourAnnotations(t *testing.T) {
	h := newHarness(t, setup{})
	if len(h.Tools) == 0 {
		t.Fatal("no tools listed")
	}
	for name, tool := range h.Tools {
		a := tool.Annotations
		for hint, v := range map[string]*bool{"readOnlyHint": a.ReadOnlyHint, "destructiveHint": a.DestructiveHint,
			"idempotentHint": a.IdempotentHint, "openWorldHint": a.OpenWorldHint} {
			if v == nil {
				t.Errorf("%s: %s is not set", name, hint)
			}
		}
		if a.ReadOnlyHint != nil && *a.ReadOnlyHint && *a.DestructiveHint {
			t.Errorf("%s: read-only and destructive at once", name)
		}
		if tool.Description == "" || a.Title == "" {
			t.Errorf("%s: missing description or title", name)
		}
	}
}

// The schema each tool declares is part of the contract with clients: a
// change must be deliberate (go test ./tools -run Snapshot -update).
func TestSchemaSnapshots(t *testing.T) {
	h := newHarness(t, setup{})
	dir := filepath.Join("testdata", "schemas")
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, tool := range h.Tools {
		got, err := json.MarshalIndent(tool, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join(dir, name+".json")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: no snapshot (run go test ./tools -run TestSchemaSnapshots -update): %v", name, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s: schema differs from %s; if intended, run with -update\n got: %s", name, path, got)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	for _, f := range files {
		name := filepath.Base(f[:len(f)-len(".json")])
		if _, ok := h.Tools[name]; !ok {
			t.Errorf("snapshot %s has no tool", f)
		}
	}
}

// A tool marked read-only makes no write call on the storage interfaces:
// each is run against a real backend wrapped to record every call of a
// method that writes (writeRecorder), and must record none. Every
// read-only tool needs a row of arguments here, so a new one is checked
// too; a few writing tools show that the recorder sees writes.
func TestReadOnlyToolsNeverWrite(t *testing.T) {
	rec := &writeRecorder{}
	backend := local.New(t.TempDir())
	t.Cleanup(func() { backend.Close() })
	store := storage.Guard(recordingBackend{Backend: backend, rec: rec}, storage.Policy{})
	ctx := t.Context()
	ns, err := store.KV().CreateNamespace(ctx, "site")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.KV().Put(ctx, ns.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.R2().CreateBucket(ctx, storage.BucketSpec{Name: "assets"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.R2().PutObject(ctx, storage.ObjectPut{Bucket: "assets", Key: "a.txt", Body: strings.NewReader("x"), Size: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.D1().CreateDatabase(ctx, storage.DatabaseSpec{Name: "app"}); err != nil {
		t.Fatal(err)
	}
	srv, err := mcpserver.New(mcpserver.Options{Version: "test", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	s := mcptest.InProcess(t, srv)

	readCalls := map[string]map[string]any{
		"kv_get":             {"namespace": "site", "key": "k"},
		"kv_list":            {"namespace": "site"},
		"kv_bulk_get":        {"namespace": "site", "keys": []string{"k", "absent"}},
		"list_kv_namespaces": {},
		"r2_list":            {"bucket": "assets"},
		"r2_head":            {"bucket": "assets", "key": "a.txt"},
		"r2_download":        {"bucket": "assets", "key": "a.txt"},
		"list_r2_buckets":    {},
		"list_d1_databases":  {},
		"whoami":             {},
	}
	for name, tool := range s.Tools {
		ro := tool.Annotations.ReadOnlyHint
		args, ok := readCalls[name]
		if ro == nil || !*ro {
			if ok {
				t.Errorf("%s has a row in readCalls but is not marked read-only", name)
			}
			continue
		}
		if !ok {
			t.Errorf("%s is marked read-only: give it a row in readCalls", name)
			continue
		}
		rec.take()
		s.OK(name, args)
		if w := rec.take(); len(w) > 0 {
			t.Errorf("%s is marked read-only but wrote: %v", name, w)
		}
	}

	for _, c := range []struct {
		tool  string
		args  map[string]any
		write string
	}{
		{"kv_put", map[string]any{"namespace": "site", "key": "k2", "value": "v"}, "KV.Put"},
		{"r2_upload", map[string]any{"bucket": "assets", "key": "b.txt", "content": "y"}, "R2.PutObject"},
		{"d1_query", map[string]any{"database": "app", "sql": "CREATE TABLE t (x)"}, "D1.Query"},
	} {
		rec.take()
		s.OK(c.tool, c.args)
		if w := rec.take(); !slices.Contains(w, c.write) {
			t.Errorf("%s recorded writes %v, want %s: the recorder misses writes", c.tool, w, c.write)
		}
	}
}

// writeRecorder records the write calls a backend receives.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (r *writeRecorder) add(call string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, call)
}

// take returns the calls recorded since the last take.
func (r *writeRecorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.writes
	r.writes = nil
	return w
}

// recordingBackend passes every call on to Backend, recording those of the
// methods that write: everything but reads, listings, Describe and Presign,
// and D1 queries not confined to reading.
type recordingBackend struct {
	storage.Backend
	rec *writeRecorder
}

func (b recordingBackend) KV() storage.KV { return recordingKV{b.Backend.KV(), b.rec} }
func (b recordingBackend) R2() storage.R2 { return recordingR2{b.Backend.R2(), b.rec} }
func (b recordingBackend) D1() storage.D1 { return recordingD1{b.Backend.D1(), b.rec} }

type recordingKV struct {
	storage.KV
	rec *writeRecorder
}

func (k recordingKV) CreateNamespace(ctx context.Context, title string) (storage.Namespace, error) {
	k.rec.add("KV.CreateNamespace")
	return k.KV.CreateNamespace(ctx, title)
}

func (k recordingKV) RenameNamespace(ctx context.Context, id, title string) error {
	k.rec.add("KV.RenameNamespace")
	return k.KV.RenameNamespace(ctx, id, title)
}

func (k recordingKV) DeleteNamespace(ctx context.Context, id string) error {
	k.rec.add("KV.DeleteNamespace")
	return k.KV.DeleteNamespace(ctx, id)
}

func (k recordingKV) Put(ctx context.Context, namespaceID string, put storage.KVPut) error {
	k.rec.add("KV.Put")
	return k.KV.Put(ctx, namespaceID, put)
}

func (k recordingKV) Delete(ctx context.Context, namespaceID, key string) error {
	k.rec.add("KV.Delete")
	return k.KV.Delete(ctx, namespaceID, key)
}

func (k recordingKV) BulkPut(ctx context.Context, namespaceID string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	k.rec.add("KV.BulkPut")
	return k.KV.BulkPut(ctx, namespaceID, entries)
}

func (k recordingKV) BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error) {
	k.rec.add("KV.BulkDelete")
	return k.KV.BulkDelete(ctx, namespaceID, keys)
}

type recordingR2 struct {
	storage.R2
	rec *writeRecorder
}

func (r recordingR2) CreateBucket(ctx context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	r.rec.add("R2.CreateBucket")
	return r.R2.CreateBucket(ctx, spec)
}

func (r recordingR2) DeleteBucket(ctx context.Context, name string) error {
	r.rec.add("R2.DeleteBucket")
	return r.R2.DeleteBucket(ctx, name)
}

func (r recordingR2) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	r.rec.add("R2.PutObject")
	return r.R2.PutObject(ctx, put)
}

func (r recordingR2) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	r.rec.add("R2.CopyObject")
	return r.R2.CopyObject(ctx, src, dst)
}

func (r recordingR2) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	r.rec.add("R2.DeleteObjects")
	return r.R2.DeleteObjects(ctx, bucket, keys)
}

type recordingD1 struct {
	storage.D1
	rec *writeRecorder
}

func (d recordingD1) CreateDatabase(ctx context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	d.rec.add("D1.CreateDatabase")
	return d.D1.CreateDatabase(ctx, spec)
}

func (d recordingD1) DeleteDatabase(ctx context.Context, id string) error {
	d.rec.add("D1.DeleteDatabase")
	return d.D1.DeleteDatabase(ctx, id)
}

func (d recordingD1) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	if !opts.ReadOnly {
		d.rec.add("D1.Query")
	}
	return d.D1.Query(ctx, id, stmts, opts)
}

// --read-only is derived from the annotations: exactly the tools whose
// readOnlyHint is true remain, plus d1_query, which the Store confines to
// statements that cannot write.
func TestReadOnlyOffersOnlyReadOnlyTools(t *testing.T) {
	all := newHarness(t, setup{})
	ro := newHarness(t, setup{policy: storage.Policy{ReadOnly: true}})
	var want []string
	for name, tool := range all.Tools {
		if *tool.Annotations.ReadOnlyHint || name == "d1_query" {
			want = append(want, name)
		}
	}
	got := keys(ro.Tools)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("read-only tools = %v, want %v", got, want)
	}
	for _, must := range []string{"kv_get", "kv_list", "r2_list", "r2_download", "whoami", "list_d1_databases", "d1_query"} {
		if !slices.Contains(got, must) {
			t.Errorf("read-only mode lacks %s", must)
		}
	}
	if slices.Contains(got, "kv_put") || slices.Contains(got, "delete_r2_bucket") || slices.Contains(got, "create_d1_database") {
		t.Errorf("read-only mode offers a write tool: %v", got)
	}
}

// toolsetTools is every tool of each toolset, spelled out: a tool added,
// dropped or moved must change this table.
var toolsetTools = map[string][]string{
	tools.ToolsetKV: {"create_kv_namespace", "delete_kv_namespace", "kv_bulk_delete", "kv_bulk_get", "kv_bulk_put",
		"kv_delete", "kv_get", "kv_list", "kv_put", "list_kv_namespaces", "rename_kv_namespace"},
	tools.ToolsetR2: {"create_r2_bucket", "delete_r2_bucket", "list_r2_buckets", "r2_copy", "r2_delete", "r2_download",
		"r2_head", "r2_list", "r2_presign", "r2_upload"},
	tools.ToolsetD1:      {"create_d1_database", "d1_query", "delete_d1_database", "list_d1_databases"},
	tools.ToolsetAccount: {"whoami"},
}

// Each toolset offers exactly its tools, and all of them together exactly
// the tools of a server started without --toolsets.
func TestToolsetsSelectAreas(t *testing.T) {
	var every []string
	for _, set := range tools.Toolsets {
		want := toolsetTools[set]
		if want == nil {
			t.Errorf("toolset %s: no row in toolsetTools", set)
		}
		every = append(every, want...)
		h := newHarness(t, setup{toolsets: []string{set}})
		if got := keys(h.Tools); !slices.Equal(got, want) {
			t.Errorf("toolset %s offers %q, want %q", set, got, want)
		}
	}
	sort.Strings(every)
	if got := keys(newHarness(t, setup{}).Tools); !slices.Equal(got, every) {
		t.Errorf("all toolsets offer %q, want %q", got, every)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
