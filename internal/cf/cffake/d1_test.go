package cffake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestD1DatabaseLifecycle(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)

	var created d1Database
	a.json(http.MethodPost, d1Base, map[string]string{"name": "app_db-1", "primary_location_hint": "weur"}).ok(t, &created)
	if !uuidV4.MatchString(created.UUID) || created.Name != "app_db-1" || created.Version != "production" {
		t.Fatalf("created %+v", created)
	}
	if _, err := time.Parse(time.RFC3339Nano, created.CreatedAt); err != nil {
		t.Fatalf("created_at %q: %v", created.CreatedAt, err)
	}

	var got d1Database
	a.get(d1Base+"/"+created.UUID).ok(t, &got)
	if got.UUID != created.UUID || got.Name != created.Name || got.CreatedAt != created.CreatedAt || got.NumTables != 0 {
		t.Fatalf("get = %+v", got)
	}
	empty := got.FileSize
	a.query(created.UUID, "CREATE TABLE a (x); CREATE TABLE b (y)").ok(t, nil)
	a.get(d1Base+"/"+created.UUID).ok(t, &got)
	if got.NumTables != 2 || got.FileSize <= empty {
		t.Fatalf("after two tables: num_tables = %v, file_size %v (empty: %v)", got.NumTables, got.FileSize, empty)
	}

	r := a.do(http.MethodDelete, d1Base+"/"+created.UUID, nil).ok(t, nil)
	if string(r.env.Result) != "null" {
		t.Fatalf("delete result = %s, want null", r.env.Result)
	}
	a.get(d1Base+"/"+created.UUID).fails(t, 404, 7404)
	a.query(created.UUID, "SELECT 1").fails(t, 404, 7404)
	a.do(http.MethodDelete, d1Base+"/"+created.UUID, nil).fails(t, 404, 7404)

	// The name is free again, and the new database starts empty.
	again := a.createDatabase("app_db-1")
	a.query(again, "SELECT * FROM a").fails(t, 400, 7500)
}

func TestD1DatabaseRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	a.createDatabase("taken")

	tests := []struct {
		name   string
		call   func() *response
		status int
		code   int
	}{
		{"duplicate name", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{"name": "taken"}) }, 400, 7502},
		{"missing name", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{}) }, 400, 7400},
		{"empty name", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{"name": ""}) }, 400, 7400},
		{"uppercase name", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{"name": "Prod"}) }, 400, 7400},
		{"name starting with a dash", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{"name": "-db"}) }, 400, 7400},
		{"name with a dot", func() *response { return a.json(http.MethodPost, d1Base, map[string]string{"name": "a.b"}) }, 400, 7400},
		{"unknown location hint", func() *response {
			return a.json(http.MethodPost, d1Base, map[string]string{"name": "x", "primary_location_hint": "mars"})
		}, 400, 7400},
		{"malformed JSON", func() *response { return a.do(http.MethodPost, d1Base, strings.NewReader(`{"name":`)) }, 400, 6007},
		{"name of the wrong type", func() *response { return a.do(http.MethodPost, d1Base, strings.NewReader(`{"name":5}`)) }, 400, 6007},
		{"unknown database", func() *response { return a.get(d1Base + "/00000000-0000-4000-8000-000000000000") }, 404, 7404},
		{"malformed database id", func() *response { return a.get(d1Base + "/db") }, 404, 7404},
		{"delete unknown database", func() *response {
			return a.do(http.MethodDelete, d1Base+"/00000000-0000-4000-8000-000000000000", nil)
		}, 404, 7404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.call().fails(t, tt.status, tt.code)
		})
	}
	// A rejected create creates nothing.
	var all []d1Database
	a.get(d1Base).ok(t, &all)
	if len(all) != 1 {
		t.Fatalf("%d databases after rejections, want 1", len(all))
	}
}

func TestD1ListDatabases(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	var names []string
	for i := range 23 {
		name := fmt.Sprintf("db-%02d", i)
		names = append(names, name)
		a.createDatabase(name)
	}
	a.createDatabase("other")

	var got []string
	for pageNo := 1; pageNo <= 4; pageNo++ {
		var page []d1Database
		var info pageInfo
		a.get(fmt.Sprintf("%s?name=db-&per_page=10&page=%d", d1Base, pageNo)).ok(t, &page).info(t, &info)
		wantCount := []int{10, 10, 3, 0}[pageNo-1]
		if len(page) != wantCount || info.Count != wantCount || info.TotalCount != 23 || info.Page != pageNo || info.PerPage != 10 {
			t.Fatalf("page %d: %d databases, result_info %+v", pageNo, len(page), info)
		}
		for _, d := range page {
			got = append(got, d.Name)
		}
	}
	if !slices.Equal(got, names) {
		t.Fatalf("names = %v, want %v", got, names)
	}

	var exact []d1Database
	a.get(d1Base+"?name=other").ok(t, &exact)
	if len(exact) != 1 || exact[0].Name != "other" || !uuidV4.MatchString(exact[0].UUID) {
		t.Fatalf("name=other: %+v", exact)
	}
	var none []d1Database
	a.get(d1Base+"?name=absent").ok(t, &none)
	if len(none) != 0 {
		t.Fatalf("name=absent: %+v", none)
	}
	var def []d1Database
	var info pageInfo
	a.get(d1Base).ok(t, &def).info(t, &info)
	if info.PerPage != 1000 || info.Page != 1 || len(def) != 24 || info.TotalCount != 24 {
		t.Fatalf("defaults: %+v with %d databases", info, len(def))
	}

	for _, q := range []string{"per_page=9", "per_page=10001", "per_page=ten", "page=0", "page=1.5"} {
		t.Run(q, func(t *testing.T) { a.get(d1Base+"?"+q).fails(t, 400, 7400) })
	}
}

func TestD1QueryResultsAndMeta(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	db := a.createDatabase("q")

	var res []d1QueryResult
	a.query(db, `CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT UNIQUE, age INTEGER, score REAL);
		INSERT INTO users (email, age, score) VALUES ('a@x', 30, 1.5), ('b@x', NULL, 2);
		SELECT * FROM users ORDER BY id`).ok(t, &res)
	if len(res) != 3 {
		t.Fatalf("%d results for 3 statements", len(res))
	}
	for i, r := range res {
		if !r.Success || r.Results == nil {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if m := res[0].Meta; !m.ChangedDB || m.Changes != 0 {
		t.Errorf("CREATE meta %+v", m)
	}
	if m := res[1].Meta; !m.ChangedDB || m.Changes != 2 || m.RowsWritten != 2 || m.LastRowID != 2 || m.SizeAfter <= 0 {
		t.Errorf("INSERT meta %+v", m)
	}
	if m := res[2].Meta; m.ChangedDB || m.Changes != 0 || m.RowsRead != 2 {
		t.Errorf("SELECT meta %+v", m)
	}
	want := []map[string]any{
		{"id": 1.0, "email": "a@x", "age": 30.0, "score": 1.5},
		{"id": 2.0, "email": "b@x", "age": nil, "score": 2.0},
	}
	if !reflect.DeepEqual(res[2].Results, want) {
		t.Fatalf("rows = %v, want %v", res[2].Results, want)
	}

	// Rows are objects whose keys keep the statement's column order.
	r := a.query(db, "SELECT score, id, email FROM users WHERE id = ?", 1).ok(t, nil)
	if !strings.Contains(string(r.env.Result), `"results":[{"score":1.5,"id":1,"email":"a@x"}]`) {
		t.Fatalf("column order not kept: %s", r.env.Result)
	}

	// Parameters bind positionally, by ? and by ?NNN.
	a.query(db, "SELECT email FROM users WHERE age = ?2 OR email = ?1", "b@x", 30).ok(t, &res)
	if len(res[0].Results) != 2 {
		t.Fatalf("?NNN binding: %v", res[0].Results)
	}
	// A string compared with an INTEGER column takes its affinity, as the
	// spec's string-only params need.
	a.query(db, "SELECT email FROM users WHERE id = ?", "2").ok(t, &res)
	if len(res[0].Results) != 1 || res[0].Results[0]["email"] != "b@x" {
		t.Fatalf("string param against INTEGER: %v", res[0].Results)
	}

	// Raw: columns, and rows as arrays.
	var raw []d1RawResult
	a.raw(db, "SELECT id, email, age FROM users ORDER BY id").ok(t, &raw)
	if len(raw) != 1 || !raw[0].Success || !slices.Equal(raw[0].Results.Columns, []string{"id", "email", "age"}) ||
		!reflect.DeepEqual(raw[0].Results.Rows, [][]any{{1.0, "a@x", 30.0}, {2.0, "b@x", nil}}) {
		t.Fatalf("raw = %+v", raw)
	}
	a.raw(db, "UPDATE users SET age = age + 1").ok(t, &raw)
	if raw[0].Results.Columns == nil || raw[0].Results.Rows == nil || len(raw[0].Results.Rows) != 0 || raw[0].Meta.Changes != 2 {
		t.Fatalf("raw of a statement without rows = %+v", raw[0])
	}
}

// Values come back typed: INTEGER and REAL as numbers, TEXT as strings, NULL
// as null and BLOB as an array of byte values. Parameters bind the same
// way, booleans as 1 and 0.
func TestD1ValueTypes(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	db := a.createDatabase("types")
	a.query(db, "CREATE TABLE v (i INTEGER, r REAL, t TEXT, n, b BLOB, yes, no, big INTEGER, d DATETIME)").ok(t, nil)
	a.query(db, "INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		42, 2.5, "text", nil, []int{0, 1, 255}, true, false, int64(1)<<53+1, "2024-01-02 03:04:05").ok(t, nil)

	r := a.raw(db, "SELECT i, r, t, n, b, typeof(b), yes, no, big, d, 1e999 FROM v").ok(t, nil)
	var raw []struct {
		Results struct {
			Rows [][]json.RawMessage `json:"rows"`
		} `json:"results"`
	}
	if err := json.Unmarshal(r.env.Result, &raw); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range raw[0].Results.Rows[0] {
		got = append(got, string(v))
	}
	want := []string{"42", "2.5", `"text"`, "null", "[0,1,255]", `"blob"`, "1", "0", "9007199254740993", `"2024-01-02 03:04:05"`, "null"}
	if !slices.Equal(got, want) {
		t.Fatalf("row = %v, want %v", got, want)
	}

	for name, params := range map[string][]any{
		"object":            {map[string]int{"a": 1}},
		"blob out of range": {[]int{256}},
		"blob of strings":   {[]string{"a"}},
	} {
		t.Run(name, func(t *testing.T) { a.query(db, "SELECT ?", params...).fails(t, 400, 7400) })
	}
}

func TestD1BatchesAndErrors(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	db := a.createDatabase("batch")
	a.query(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)").ok(t, nil)

	// A batch that fails part-way changes nothing.
	r := a.query(db, "INSERT INTO t (v) VALUES ('one'); INSERT INTO t (v) VALUES ('one')").fails(t, 400, 7500)
	if msg := r.env.Errors[0].Message; msg != "UNIQUE constraint failed: t.v: SQLITE_CONSTRAINT" {
		t.Fatalf("message %q", msg)
	}
	var res []d1QueryResult
	a.query(db, "SELECT count(*) AS n FROM t").ok(t, &res)
	if res[0].Results[0]["n"] != 0.0 {
		t.Fatalf("failed batch left rows: %v", res[0].Results)
	}

	// Semicolons inside strings, comments and trigger bodies do not split.
	a.query(db, `INSERT INTO t (v) VALUES ('a;b'); -- a comment; still a comment
		/* block; comment */
		CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET v = v || '!' WHERE id = new.id; END;
		INSERT INTO t (v) VALUES ('c');;
		SELECT v FROM t ORDER BY id`).ok(t, &res)
	if len(res) != 4 {
		t.Fatalf("%d results, want 4", len(res))
	}
	if !reflect.DeepEqual(res[3].Results, []map[string]any{{"v": "a;b"}, {"v": "c!"}}) {
		t.Fatalf("rows %v", res[3].Results)
	}

	tests := []struct {
		name   string
		sql    string
		params []any
		status int
		code   int
		msg    string
	}{
		{"syntax error", "SELEC 1", nil, 400, 7500, `near "SELEC": syntax error: SQLITE_ERROR`},
		{"no such table", "SELECT * FROM missing", nil, 400, 7500, "no such table: missing: SQLITE_ERROR"},
		{"too few params", "SELECT ?, ?", []any{1}, 400, 7500, ""},
		{"params with several statements", "SELECT ?; SELECT 2", []any{1}, 400, 7500, ""},
		{"statement over 100 KB", "SELECT '" + strings.Repeat("x", 100_000) + "'", nil, 400, 7500, "statement too long: SQLITE_TOOBIG"},
		{"101 bound params", "SELECT ?" + strings.Repeat(", ?", 100), make([]any, 101), 400, 7500, "too many SQL variables: SQLITE_ERROR"},
		{"empty sql", "  ", nil, 400, 7400, ""},
		{"only a comment", "-- nothing", nil, 400, 7400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.query(db, tt.sql, tt.params...).fails(t, tt.status, tt.code)
			if tt.msg != "" && r.env.Errors[0].Message != tt.msg {
				t.Fatalf("message %q, want %q", r.env.Errors[0].Message, tt.msg)
			}
		})
	}
	// The limits themselves pass.
	a.query(db, "SELECT ?"+strings.Repeat(", ?", 99), make([]any, 100)...).ok(t, nil)
	a.query(db, "SELECT '"+strings.Repeat("x", 100_000-9)+"'").ok(t, nil)
	// A body without sql, and one that is not JSON.
	a.json(http.MethodPost, d1Base+"/"+db+"/query", map[string]any{"params": []string{}}).fails(t, 400, 7400)
	a.do(http.MethodPost, d1Base+"/"+db+"/raw", strings.NewReader(`{"sql":`)).fails(t, 400, 6007)
}

// Databases are separate: per database, and per fake.
func TestD1DatabasesAreIsolated(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	b, _ := newAPI(t)
	one, two := a.createDatabase("one"), a.createDatabase("two")
	other := b.createDatabase("one")
	a.query(one, "CREATE TABLE t (x); INSERT INTO t VALUES (1)").ok(t, nil)
	a.query(two, "SELECT * FROM t").fails(t, 400, 7500)
	b.query(other, "SELECT * FROM t").fails(t, 400, 7500)
}

func TestD1Permissions(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, cffake.WithTokens(
		cffake.Token{Value: cffake.DefaultToken, Permissions: cffake.AllPermissions()},
		cffake.Token{Value: "reader", Permissions: []cffake.Permission{cffake.PermD1Read}},
		cffake.Token{Value: "editor", Permissions: []cffake.Permission{cffake.PermD1Edit}},
		cffake.Token{Value: "kv-only", Permissions: []cffake.Permission{cffake.PermKVEdit}},
	))
	db := a.createDatabase("perm")
	a.query(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1)").ok(t, nil)
	reader, editor, kv := a.as("reader"), a.as("editor"), a.as("kv-only")

	reader.get(d1Base).ok(t, nil)
	reader.get(d1Base+"/"+db).ok(t, nil)
	reader.query(db, "SELECT * FROM t").ok(t, nil)
	reader.raw(db, "SELECT * FROM t").ok(t, nil)
	reader.query(db, "INSERT INTO t VALUES (2)").fails(t, 403, 10000)
	reader.query(db, "SELECT 1; DROP TABLE t").fails(t, 403, 10000)
	reader.json(http.MethodPost, d1Base, map[string]string{"name": "nope"}).fails(t, 403, 10000)
	reader.do(http.MethodDelete, d1Base+"/"+db, nil).fails(t, 403, 10000)
	// The refused write changed nothing, and the database is writable again.
	var res []d1QueryResult
	a.query(db, "SELECT count(*) AS n FROM t").ok(t, &res)
	if res[0].Results[0]["n"] != 1.0 {
		t.Fatalf("rows after refused writes: %v", res[0].Results)
	}
	editor.query(db, "INSERT INTO t VALUES (3)").ok(t, nil)
	editor.get(d1Base).ok(t, nil) // edit implies read

	kv.get(d1Base).fails(t, 403, 10000)
	kv.query(db, "SELECT 1").fails(t, 403, 10000)
}

// Concurrent queries on one database and on several are serialized per
// database and race-free (run with -race).
func TestD1ConcurrentQueries(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	db := a.createDatabase("busy")
	a.query(db, "CREATE TABLE t (x INTEGER)").ok(t, nil)
	const n = 20
	done := make(chan *response, n)
	for i := range n {
		go func() { done <- a.query(db, "INSERT INTO t VALUES (?); SELECT count(*) FROM t", i) }()
	}
	for range n {
		if r := <-done; r.status != 400 { // params with two statements
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	for i := range n {
		go func() { done <- a.query(db, "INSERT INTO t VALUES (?)", i) }()
	}
	for range n {
		if r := <-done; r.status != 200 {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	var res []d1QueryResult
	a.query(db, "SELECT count(*) AS n FROM t").ok(t, &res)
	if res[0].Results[0]["n"] != float64(n) {
		t.Fatalf("count %v, want %d", res[0].Results[0]["n"], n)
	}
}

// The batch form of the current API: {"batch": [{sql, params}, …]}, one
// transaction, a result per statement, on query and raw alike.
func TestD1BatchForm(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	db := a.createDatabase("batch-form")
	a.query(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)").ok(t, nil)
	batch := func(path string, items ...map[string]any) *response {
		return a.json(http.MethodPost, d1Base+"/"+db+"/"+path, map[string]any{"batch": items})
	}

	var res []d1QueryResult
	batch("query",
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?)", "params": []any{"x"}},
		map[string]any{"sql": "INSERT INTO t (v) VALUES (?); ", "params": []any{"y"}},
		map[string]any{"sql": "SELECT v FROM t ORDER BY id; SELECT count(*) AS n FROM t"},
	).ok(t, &res)
	if len(res) != 4 || res[1].Meta.LastRowID != 2 ||
		!reflect.DeepEqual(res[2].Results, []map[string]any{{"v": "x"}, {"v": "y"}}) || res[3].Results[0]["n"] != 2.0 {
		t.Fatalf("batch results %+v", res)
	}
	var raw []d1RawResult
	batch("raw", map[string]any{"sql": "SELECT v FROM t WHERE id = ?", "params": []any{1}}).ok(t, &raw)
	if len(raw) != 1 || !reflect.DeepEqual(raw[0].Results.Rows, [][]any{{"x"}}) {
		t.Fatalf("raw batch %+v", raw)
	}

	// A failing statement undoes the whole batch.
	batch("query",
		map[string]any{"sql": "INSERT INTO t (v) VALUES ('z')"},
		map[string]any{"sql": "INSERT INTO t (v) VALUES ('x')"},
	).fails(t, 400, 7500)
	a.query(db, "SELECT count(*) AS n FROM t").ok(t, &res)
	if res[0].Results[0]["n"] != 2.0 {
		t.Fatalf("failed batch left rows: %v", res[0].Results)
	}

	for name, body := range map[string]any{
		"empty batch":          map[string]any{"batch": []any{}},
		"batch item sans sql":  map[string]any{"batch": []any{map[string]any{"params": []any{1}}}},
		"both sql and batch":   map[string]any{"sql": "SELECT 1", "batch": []any{map[string]any{"sql": "SELECT 2"}}},
		"batch item of spaces": map[string]any{"batch": []any{map[string]any{"sql": " "}}},
	} {
		t.Run(name, func(t *testing.T) {
			a.json(http.MethodPost, d1Base+"/"+db+"/query", body).fails(t, 400, 7400)
		})
	}
	// Each statement of a batch has its own 100-parameter limit.
	hundred := map[string]any{"sql": "SELECT ?" + strings.Repeat(", ?", 99), "params": make([]any, 100)}
	batch("query", hundred, hundred).ok(t, nil)
}

func TestD1CreateJurisdiction(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	for _, j := range []string{"eu", "fedramp", "us"} {
		a.json(http.MethodPost, d1Base, map[string]string{"name": "db-" + j, "jurisdiction": j}).ok(t, nil)
	}
	a.json(http.MethodPost, d1Base, map[string]string{"name": "db-x", "jurisdiction": "mars"}).fails(t, 400, 7400)
}
