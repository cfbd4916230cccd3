package cf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// These tests put the D1 client against handlers of their own, which check
// each request against the reference spec
// (../shared/reference/cloudflare-storage-openapi.json: paths, methods,
// bodies) and answer as Cloudflare does. The behaviour suite
// (behaviour_test.go) runs D1 against cffake as well.

const (
	testAccount = "0123456789abcdef0123456789abcdef"
	testDBID    = "6f2c9a84-1d0e-4f3b-9a7c-2b5e8d1f4a60"
)

// d1Request is a request as a handler saw it.
type d1Request struct {
	Method, Path string
	Query        url.Values
	Body         []byte
}

// d1Server answers every request with answer, and keeps the requests.
type d1Server struct {
	mu       sync.Mutex
	requests []d1Request
}

func (s *d1Server) seen() []d1Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]d1Request(nil), s.requests...)
}

func newD1Backend(t *testing.T, answer func(w http.ResponseWriter, r d1Request)) (*Backend, *d1Server) {
	t.Helper()
	s := &d1Server{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := d1Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.Query(), Body: body}
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		answer(w, req)
	}))
	t.Cleanup(srv.Close)
	b, err := New(Config{
		APIToken: "test-token", AccountID: testAccount, BaseURL: srv.URL,
		Retry: RetryPolicy{Attempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b, s
}

// envelope writes Cloudflare's success envelope around result.
func envelope(w http.ResponseWriter, result string) {
	fmt.Fprintf(w, `{"success":true,"errors":[],"messages":[],"result":%s}`, result)
}

func failure(w http.ResponseWriter, status, code int, message string) {
	w.WriteHeader(status)
	js, _ := json.Marshal(message)
	fmt.Fprintf(w, `{"success":false,"errors":[{"code":%d,"message":%s}],"messages":[],"result":null}`, code, js)
}

const dbPath = "/accounts/" + testAccount + "/d1/database"

// jsonEqual compares two JSON texts as values, numbers by their digits.
func jsonEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	decode := func(b []byte) any {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%s: %q is not JSON: %v", what, b, err)
		}
		return v
	}
	if g, w := decode(got), decode([]byte(want)); !reflect.DeepEqual(g, w) {
		t.Errorf("%s = %s, want %s", what, got, want)
	}
}

func TestD1QuerySendsOneStatementToRaw(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		envelope(w, `[{"success":true,
			"results":{"columns":["z","a","a","b","n","f","big","one"],
			           "rows":[[3,"x","y",[0,1,255],null,1.5,9007199254740993,1.0],[4,"p","q",[],null,-2,0,7]]},
			"meta":{"changes":0,"last_row_id":0,"rows_read":2,"rows_written":0,"duration":1.25,"changed_db":false}}]`)
	})
	hostile := "'); DROP TABLE t; --"
	sql := "SELECT z, a, a, b, n, f, big, one FROM t WHERE s = ? AND i = ? AND f = ? AND g = ? AND b = ? AND n IS ? AND k = ?"
	res, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{
		SQL:    sql,
		Params: []any{hostile, int64(9007199254740993), 1.5, 2.0, []byte{0, 1, 255}, nil, true},
	}}, storage.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.seen()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != dbPath+"/"+testDBID+"/raw" {
		t.Errorf("request %s %s, want POST %s/%s/raw", r.Method, r.Path, dbPath, testDBID)
	}
	// The SQL as given, the parameters an array beside it: never spliced.
	want, _ := json.Marshal(sql)
	jsonEqual(t, "body", r.Body, `{"sql":`+string(want)+`,"params":["'); DROP TABLE t; --",9007199254740993,1.5,2.0,[0,1,255],null,true]}`)
	if !bytes.Contains(r.Body, []byte(`9007199254740993`)) || !bytes.Contains(r.Body, []byte(`2.0`)) {
		t.Errorf("body %s: the integer lost digits or the float became an integer", r.Body)
	}

	if len(res) != 1 {
		t.Fatalf("%d results, want 1", len(res))
	}
	got := res[0]
	if want := []string{"z", "a", "a", "b", "n", "f", "big", "one"}; !reflect.DeepEqual(got.Columns, want) {
		t.Errorf("columns = %q, want %q (in order, duplicates kept)", got.Columns, want)
	}
	wantRows := [][]any{
		{int64(3), "x", "y", []byte{0, 1, 255}, nil, 1.5, int64(9007199254740993), 1.0},
		{int64(4), "p", "q", []byte{}, nil, int64(-2), int64(0), int64(7)},
	}
	if !reflect.DeepEqual(got.Rows, wantRows) {
		t.Errorf("rows = %#v, want %#v", got.Rows, wantRows)
	}
	if got.RowCount != 2 || got.Meta.RowsRead != 2 || got.Meta.Duration != 1250*time.Microsecond {
		t.Errorf("RowCount %d, meta %+v", got.RowCount, got.Meta)
	}
}

func TestD1QueryBatch(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		envelope(w, `[
			{"success":true,"results":{"columns":[],"rows":[]},"meta":{"changes":0,"last_row_id":0}},
			{"success":true,"results":{"columns":[],"rows":[]},"meta":{"changes":1,"last_row_id":42,"rows_written":1}},
			{"success":true,"results":{"columns":["x"],"rows":[[1],[2],[3],[4],[5]]},"meta":{"rows_read":5}}]`)
	})
	res, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{
		{SQL: "CREATE TABLE t (x)"},
		{SQL: "INSERT INTO t VALUES (?)", Params: []any{7}},
		{SQL: "SELECT x FROM t"},
	}, storage.QueryOptions{MaxRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := srv.seen()[0]
	if r.Path != dbPath+"/"+testDBID+"/raw" {
		t.Errorf("path %s", r.Path)
	}
	jsonEqual(t, "body", r.Body, `{"batch":[{"sql":"CREATE TABLE t (x)"},{"sql":"INSERT INTO t VALUES (?)","params":[7]},{"sql":"SELECT x FROM t"}]}`)
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	if m := res[1].Meta; m.Changes != 1 || m.LastRowID != 42 || m.RowsWritten != 1 {
		t.Errorf("INSERT meta %+v", m)
	}
	if len(res[2].Rows) != 2 || res[2].RowCount != 5 || res[2].Rows[1][0] != int64(2) {
		t.Errorf("MaxRows 2 of 5: rows %v, RowCount %d", res[2].Rows, res[2].RowCount)
	}
	if res[0].Columns == nil || res[0].Rows == nil {
		t.Errorf("empty result has nil columns or rows: %#v", res[0])
	}
}

func TestD1BatchWithoutParamsIsOneSQL(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		envelope(w, `[{"success":true,"results":{"columns":[],"rows":[]},"meta":{}},
			{"success":true,"results":{"columns":[],"rows":[]},"meta":{"changes":2}},
			{"success":true,"results":{"columns":["n"],"rows":[[2]]},"meta":{}}]`)
	})
	res, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{
		{SQL: "CREATE TABLE t (x) -- a comment at the end;"},
		{SQL: "INSERT INTO t VALUES (1), (2);"},
		{SQL: "SELECT count(*) AS n FROM t"},
	}, storage.QueryOptions{})
	if err != nil || len(res) != 3 {
		t.Fatalf("Query = %d results, %v", len(res), err)
	}
	jsonEqual(t, "body", srv.seen()[0].Body,
		`{"sql":"CREATE TABLE t (x) -- a comment at the end;\n;\nINSERT INTO t VALUES (1), (2)\n;\nSELECT count(*) AS n FROM t"}`)

	// A statement whose quote never ends would swallow the next one:
	// not joined.
	_, err = b.D1().Query(t.Context(), testDBID, []storage.Statement{
		{SQL: "SELECT 'x"}, {SQL: "SELECT 1 -- '; DROP TABLE t"},
	}, storage.QueryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "body", srv.seen()[1].Body, `{"batch":[{"sql":"SELECT 'x"},{"sql":"SELECT 1 -- '; DROP TABLE t"}]}`)
}

func TestD1QueryErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  int
		code    int
		message string
		want    storage.Code
		mention []string
	}{
		{"SQLError", 400, 7500, "no such table: nope: SQLITE_ERROR", storage.CodeInvalidArgument, []string{"sql: ", "no such table: nope"}},
		{"NoDatabase", 404, 7404, "The database " + testDBID + " could not be found", storage.CodeNotFound, []string{testDBID, "list_d1_databases"}},
		{"Denied", 403, 10000, "Authentication error", storage.CodePermissionDenied, []string{"D1:Edit"}},
		{"Unavailable", 503, 10001, "try later", storage.CodeUnavailable, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _ := newD1Backend(t, func(w http.ResponseWriter, r d1Request) { failure(w, c.status, c.code, c.message) })
			_, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: "SELECT * FROM nope"}}, storage.QueryOptions{})
			wantCode(t, err, c.want, c.mention...)
		})
	}
}

func TestD1ReadOnlyIsDecidedBeforeSending(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		envelope(w, `[{"success":true,"results":{"columns":["1"],"rows":[[1]]},"meta":{}}]`)
	})
	for _, sql := range []string{
		"DELETE FROM t", "SELECT 1; DROP TABLE t", "WITH x AS (SELECT 1) DELETE FROM t", "PRAGMA user_version=7",
		"/* SELECT */ INSERT INTO t VALUES (1)", "CREATE TEMP TABLE x (y)",
	} {
		_, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{ReadOnly: true})
		wantCode(t, err, storage.CodeReadOnly, "read-only")
	}
	// What D1 never allows is refused whatever the mode.
	for _, sql := range []string{"ATTACH 'x' AS y", "BEGIN", "PRAGMA writable_schema=1", "SAVEPOINT s"} {
		_, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{})
		wantCode(t, err, storage.CodeInvalidArgument, "sql", "not allowed on D1")
	}
	if n := len(srv.seen()); n != 0 {
		t.Fatalf("%d requests were sent for refused statements", n)
	}
	if _, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: "select 'a;drop table t'"}}, storage.QueryOptions{ReadOnly: true}); err != nil {
		t.Errorf("a read under read-only: %v", err)
	}
	if n := len(srv.seen()); n != 1 {
		t.Errorf("%d requests for one read, want 1", n)
	}
}

func TestD1ReadOnlyQueriesAreRetried(t *testing.T) {
	var calls int
	var mu sync.Mutex
	answer := func(w http.ResponseWriter, r d1Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			failure(w, 503, 10001, "busy")
			return
		}
		envelope(w, `[{"success":true,"results":{"columns":["1"],"rows":[[1]]},"meta":{}}]`)
	}
	b, _ := newD1Backend(t, answer)
	if _, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: "SELECT 1"}}, storage.QueryOptions{ReadOnly: true}); err != nil {
		t.Errorf("a read after a 503: %v", err)
	}
	// A write is not sent twice: the 503 may have come after it ran.
	mu.Lock()
	calls = 0
	mu.Unlock()
	b, srv := newD1Backend(t, answer)
	_, err := b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: "INSERT INTO t VALUES (1)"}}, storage.QueryOptions{})
	wantCode(t, err, storage.CodeUnavailable)
	if n := len(srv.seen()); n != 1 {
		t.Errorf("a write was sent %d times", n)
	}
}

func TestD1ListDatabases(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		// Cloudflare's `name` searches; its order is its own.
		envelope(w, `[
			{"uuid":"00000000-0000-4000-8000-000000000003","name":"app-c","created_at":"2026-01-03T00:00:00Z","version":"production"},
			{"uuid":"00000000-0000-4000-8000-000000000009","name":"my-app-x","created_at":"2026-01-09T00:00:00Z","version":"production"},
			{"uuid":"00000000-0000-4000-8000-000000000001","name":"app-a","created_at":"2026-01-01T00:00:00Z","version":"production"},
			{"uuid":"00000000-0000-4000-8000-000000000002","name":"app-b","created_at":"2026-01-02T00:00:00Z","version":"production"}]`)
	})
	var names []string
	opts := storage.ListOptions{Prefix: "app-", Limit: 2}
	for range 5 {
		page, err := b.D1().ListDatabases(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, db := range page.Databases {
			names = append(names, db.Name)
		}
		if page.Cursor == "" {
			break
		}
		opts.Cursor = page.Cursor
	}
	if want := []string{"app-a", "app-b", "app-c"}; !reflect.DeepEqual(names, want) {
		t.Errorf("paged names %q, want %q", names, want)
	}
	for _, r := range srv.seen() {
		if r.Method != http.MethodGet || r.Path != dbPath {
			t.Errorf("request %s %s, want GET %s", r.Method, r.Path, dbPath)
		}
		if r.Query.Get("name") != "app-" || r.Query.Get("page") != "1" || r.Query.Get("per_page") != "10000" {
			t.Errorf("query %v, want name=app- page=1 per_page=10000", r.Query)
		}
	}
	_, err := b.D1().ListDatabases(t.Context(), storage.ListOptions{Cursor: "not-a-cursor"})
	wantCode(t, err, storage.CodeInvalidArgument, "cursor")

	page, err := b.D1().ListDatabases(t.Context(), storage.ListOptions{})
	if err != nil || len(page.Databases) != 4 || page.Databases[0].Name != "app-a" || page.Cursor != "" {
		t.Errorf("unfiltered listing = %+v, %v", page, err)
	}
	if _, ok := srv.seen()[len(srv.seen())-1].Query["name"]; ok {
		t.Error("a listing without a prefix sent a name filter")
	}
	if got := page.Databases[0]; got.ID != "00000000-0000-4000-8000-000000000001" || !got.CreatedAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("database %+v", got)
	}
}

func TestD1ListDatabasesPages(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		var items []string
		if r.Query.Get("page") == "1" {
			for i := range d1PerPage {
				items = append(items, fmt.Sprintf(`{"uuid":"00000000-0000-4000-8000-%012d","name":"db-%05d"}`, i, i))
			}
		} else {
			items = append(items, `{"uuid":"00000000-0000-4000-8000-999999999999","name":"db-zzz"}`)
		}
		envelope(w, "["+strings.Join(items, ",")+"]")
	})
	page, err := b.D1().ListDatabases(t.Context(), storage.ListOptions{Limit: storage.MaxDatabaseList})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.seen()); n != 2 {
		t.Errorf("%d requests, want 2 (a full page, then the rest)", n)
	}
	if len(page.Databases) != storage.MaxDatabaseList || page.Cursor == "" {
		t.Fatalf("%d databases, cursor %q", len(page.Databases), page.Cursor)
	}
	next, err := b.D1().ListDatabases(t.Context(), storage.ListOptions{Cursor: page.Cursor})
	if err != nil || len(next.Databases) != 1 || next.Databases[0].Name != "db-zzz" || next.Cursor != "" {
		t.Errorf("second page = %+v, %v", next.Databases, err)
	}
}

func TestD1CreateGetDelete(t *testing.T) {
	b, srv := newD1Backend(t, func(w http.ResponseWriter, r d1Request) {
		switch {
		case r.Method == http.MethodPost && r.Path == dbPath:
			var body map[string]any
			json.Unmarshal(r.Body, &body)
			if body["name"] == "taken" {
				failure(w, 400, 7502, "A database with that name already exists")
				return
			}
			envelope(w, `{"uuid":"`+testDBID+`","name":"`+body["name"].(string)+`","created_at":"2026-11-27T10:00:00Z","version":"production"}`)
		case r.Method == http.MethodGet && r.Path == dbPath+"/"+testDBID:
			envelope(w, `{"uuid":"`+testDBID+`","name":"app","created_at":"2026-11-27T10:00:00Z","file_size":12288,"num_tables":3}`)
		case r.Method == http.MethodDelete && r.Path == dbPath+"/"+testDBID:
			envelope(w, `null`)
		default:
			failure(w, 404, 7404, "The database could not be found")
		}
	})
	db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "app", PrimaryLocationHint: "weur", Jurisdiction: "eu"})
	if err != nil || db.ID != testDBID || db.Name != "app" {
		t.Fatalf("CreateDatabase = %+v, %v", db, err)
	}
	jsonEqual(t, "create body", srv.seen()[0].Body, `{"name":"app","primary_location_hint":"weur","jurisdiction":"eu"}`)
	if _, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "plain"}); err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, "create body", srv.seen()[1].Body, `{"name":"plain"}`)
	_, err = b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "taken"})
	wantCode(t, err, storage.CodeAlreadyExists, `"taken"`)

	got, err := b.D1().GetDatabase(t.Context(), testDBID)
	if err != nil || got.Name != "app" || got.FileSize != 12288 || got.NumTables != 3 {
		t.Errorf("GetDatabase = %+v, %v", got, err)
	}
	if err := b.D1().DeleteDatabase(t.Context(), testDBID); err != nil {
		t.Errorf("DeleteDatabase: %v", err)
	}
	other := "11111111-2222-4333-8444-555555555555"
	_, err = b.D1().GetDatabase(t.Context(), other)
	wantCode(t, err, storage.CodeNotFound, other)
	wantCode(t, b.D1().DeleteDatabase(t.Context(), other), storage.CodeNotFound, other)
}

func TestD1PermissionNamesTheD1Permission(t *testing.T) {
	b, _ := newD1Backend(t, func(w http.ResponseWriter, r d1Request) { failure(w, 403, 10000, "Authentication error") })
	_, err := b.D1().ListDatabases(t.Context(), storage.ListOptions{})
	wantCode(t, err, storage.CodePermissionDenied, "D1:Read")
	_, err = b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "x"})
	wantCode(t, err, storage.CodePermissionDenied, "D1:Edit")
	_, err = b.D1().Query(t.Context(), testDBID, []storage.Statement{{SQL: "SELECT 1"}}, storage.QueryOptions{ReadOnly: true})
	wantCode(t, err, storage.CodePermissionDenied, "D1:Read")
}

// TestFloatText: a float parameter keeps its point (the values of an
// answer are d1wire's: TestValue).
func TestFloatText(t *testing.T) {
	if got := floatText(2); got != "2.0" {
		t.Errorf("floatText(2) = %q", got)
	}
	if got := floatText(1e300); !strings.ContainsAny(got, "eE") {
		t.Errorf("floatText(1e300) = %q", got)
	}
}

// Against cffake: a token with D1 Read lists and reads, and a write it sends
// is refused naming the permission it lacks.
func TestD1OnTheFakeWithAReadToken(t *testing.T) {
	const editor, reader = "d1-editor-token", "d1-reader-token"
	f := newFakeCloudflare(t, cffake.WithTokens(
		cffake.Token{Value: editor, Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermD1Edit}},
		cffake.Token{Value: reader, Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermD1Read}},
	))
	rw := f.backend(t, func(c *Config) { c.APIToken = editor })
	ro := f.backend(t, func(c *Config) { c.APIToken = reader })
	db, err := rw.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "perm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rw.D1().Query(t.Context(), db.ID, []storage.Statement{
		{SQL: "CREATE TABLE t (x)"}, {SQL: "INSERT INTO t VALUES (?)", Params: []any{int64(1)}},
	}, storage.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := ro.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "SELECT x FROM t"}}, storage.QueryOptions{})
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 || res[0].Rows[0][0] != int64(1) {
		t.Fatalf("read with a D1 Read token = %v, %v", res, err)
	}
	_, err = ro.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "DELETE FROM t"}}, storage.QueryOptions{})
	wantCode(t, err, storage.CodePermissionDenied, "D1:Edit")
	_, err = ro.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "nope"})
	wantCode(t, err, storage.CodePermissionDenied, "D1:Edit")
	_, err = rw.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "SELECT * FROM nope"}}, storage.QueryOptions{})
	wantCode(t, err, storage.CodeInvalidArgument, "sql: ", "no such table: nope")
}
