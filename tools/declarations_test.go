package tools_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

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

func TestToolsetsSelectAreas(t *testing.T) {
	h := newHarness(t, setup{toolsets: []string{tools.ToolsetKV}})
	for name := range h.Tools {
		if name[:3] != "kv_" && name != "list_kv_namespaces" && name != "create_kv_namespace" &&
			name != "rename_kv_namespace" && name != "delete_kv_namespace" {
			t.Errorf("toolset kv offers %s", name)
		}
	}
	if _, ok := h.Tools["kv_put"]; !ok {
		t.Error("toolset kv lacks kv_put")
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
