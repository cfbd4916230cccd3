package tools_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestD1DatabaseLifecycle(t *testing.T) {
	h := newHarness(t, setup{})
	created := h.OK("create_d1_database", map[string]any{"name": "app-db", "primary_location_hint": "weur"})
	id := created["id"].(string)
	if !storage.IsDatabaseID(id) {
		t.Fatalf("id %q is not a UUID", id)
	}
	toml := created["wrangler_toml"].(string)
	for _, want := range []string{"[[d1_databases]]", `binding = "APP_DB"`, `database_name = "app-db"`, `database_id = "` + id + `"`} {
		if !strings.Contains(toml, want) {
			t.Errorf("wrangler_toml lacks %q:\n%s", want, toml)
		}
	}
	h.Fail("create_d1_database", map[string]any{"name": "app-db"}, "already_exists")
	h.Fail("create_d1_database", map[string]any{"name": "App DB"}, "invalid_argument")

	list := h.OK("list_d1_databases", map[string]any{"prefix": "app"})
	if dbs := list["databases"].([]any); len(dbs) != 1 || dbs[0].(map[string]any)["id"] != id {
		t.Fatalf("databases = %v", dbs)
	}
	h.OK("d1_query", map[string]any{"database": "app-db", "sql": "CREATE TABLE t (x)"})
	h.Fail("delete_d1_database", map[string]any{"database": id, "confirm": "other"}, "invalid_argument")
	h.OK("d1_query", map[string]any{"database": id, "sql": "SELECT * FROM t"})
	h.OK("delete_d1_database", map[string]any{"database": "app-db", "confirm": "app-db"})
	h.Fail("d1_query", map[string]any{"database": id, "sql": "SELECT 1"}, "not_found")
	h.Fail("d1_query", map[string]any{"database": "app-db", "sql": "SELECT 1"}, "not_found")
}

func TestD1QueryValuesAndParams(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_d1_database", map[string]any{"name": "vals"})
	h.OK("d1_query", map[string]any{"database": "vals", "sql": "CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n)"})
	hostile := "'); DROP TABLE t; --"
	ins := h.OK("d1_query", map[string]any{"database": "vals",
		"sql":    "INSERT INTO t VALUES (?, ?, ?, x'00ff', ?)",
		"params": []any{json.Number("9007199254740993"), 2.5, hostile, nil}})
	meta := ins["results"].([]any)[0].(map[string]any)["meta"].(map[string]any)
	if meta["changes"] != float64(1) || meta["last_row_id"] != float64(1) {
		t.Errorf("insert meta = %v", meta)
	}
	res := h.Call("d1_query", map[string]any{"database": "vals", "sql": "SELECT i, f, s, b, n FROM t WHERE s = ?", "params": []any{hostile}})
	text := mcptest.Text(res)
	// The large integer stays an exact number in the JSON text.
	for _, want := range []string{`[9007199254740993,2.5,"'); DROP TABLE t; --",{"base64":"AP8="},null]`, `"columns":["i","f","s","b","n"]`} {
		if !strings.Contains(text, want) {
			t.Errorf("result lacks %s:\n%s", want, text)
		}
	}
	h.Fail("d1_query", map[string]any{"database": "vals", "sql": "SELECT ?", "params": []any{map[string]any{"a": 1}}}, "invalid_argument")
	h.Fail("d1_query", map[string]any{"database": "vals", "sql": "SELECT ?; SELECT ?", "params": []any{1}}, "invalid_argument")
	h.Fail("d1_query", map[string]any{"database": "vals", "sql": "SELECT * FROM missing"}, "invalid_argument")
	multi := h.OK("d1_query", map[string]any{"database": "vals", "sql": "SELECT 1 AS a; SELECT 2 AS b"})
	if r := multi["results"].([]any); len(r) != 2 {
		t.Errorf("two statements gave %d results", len(r))
	}
}

func TestD1QueryMaxRows(t *testing.T) {
	h := newHarness(t, setup{maxRows: 3})
	h.OK("create_d1_database", map[string]any{"name": "rows"})
	got := h.OK("d1_query", map[string]any{"database": "rows",
		"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 10) SELECT x FROM c"})
	r := got["results"].([]any)[0].(map[string]any)
	if rows := r["rows"].([]any); len(rows) != 3 || r["row_count"] != float64(10) || r["truncated"] != true {
		t.Errorf("rows = %v, row_count = %v, truncated = %v; want 3 of 10", rows, r["row_count"], r["truncated"])
	}
	note, _ := got["note"].(string)
	for _, want := range []string{"7 more", "LIMIT 3 OFFSET 3"} {
		if !strings.Contains(note, want) {
			t.Errorf("note %q lacks %q", note, want)
		}
	}
}

func TestD1QueryReadOnly(t *testing.T) {
	h := newHarness(t, setup{})
	h.OK("create_d1_database", map[string]any{"name": "ro"})
	h.OK("d1_query", map[string]any{"database": "ro", "sql": "CREATE TABLE t (x); INSERT INTO t VALUES (1)"})

	ro := mcptest.InProcess(t, newServer(t, t, setup{policy: storage.Policy{ReadOnly: true}}, h.root, h.dataDir))
	if _, ok := ro.Tools["d1_query"]; !ok {
		t.Fatal("read-only mode does not offer d1_query")
	}
	if _, ok := ro.Tools["create_d1_database"]; ok {
		t.Error("read-only mode offers create_d1_database")
	}
	for _, sql := range []string{"DELETE FROM t", "SELECT 1; DROP TABLE t", "WITH d AS (SELECT x FROM t) DELETE FROM t", "PRAGMA user_version = 3"} {
		ro.Fail("d1_query", map[string]any{"database": "ro", "sql": sql}, "read_only")
	}
	got := ro.OK("d1_query", map[string]any{"database": "ro", "sql": "SELECT count(*) AS n FROM t"})
	if n := got["results"].([]any)[0].(map[string]any)["rows"].([]any)[0].([]any)[0]; n != float64(1) {
		t.Errorf("count = %v after refused writes, want 1", n)
	}
}

func TestD1Toolset(t *testing.T) {
	h := newHarness(t, setup{toolsets: []string{"d1"}})
	for name := range h.Tools {
		if !strings.Contains(name, "d1") {
			t.Errorf("toolset d1 offers %s", name)
		}
	}
	if len(h.Tools) != 4 {
		t.Errorf("toolset d1 offers %d tools, want 4", len(h.Tools))
	}
}
