package d1sql

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// errFile marks what Run handed to Batch.FileErr.
var errFile = errors.New("the backend's file error")

// run runs sqls as one batch on the SQLite file at path: read-only (mode=ro,
// as both backends open it under --read-only) when ro.
func run(t *testing.T, path string, ro bool, sqls ...string) ([]storage.QueryResult, error) {
	t.Helper()
	var stmts []storage.Statement
	for _, s := range sqls {
		stmts = append(stmts, storage.Statement{SQL: s})
	}
	batch, _, err := Split(stmts)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + path
	if ro {
		dsn += "?mode=ro"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	qctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return Run(ctx, qctx, conn, Batch{
		Stmts: batch, ReadOnly: ro, ConnReadOnly: ro, Limit: time.Minute, Prefix: "test",
		FileErr: func(err error) error { return errors.Join(errFile, err) },
	})
}

func newDB(t *testing.T, sqls ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d1.sqlite")
	if _, err := run(t, path, false, append([]string{"CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"}, sqls...)...); err != nil {
		t.Fatal(err)
	}
	return path
}

// The PRAGMA rules are storage's lists, in both modes; the wrangler files
// backend had its own, which also refused page_size and auto_vacuum with a
// value in every mode. D1 (and storage.PragmaFixed) allows them, and on a
// file workerd made they change nothing it relies on: see
// TestPageSizeOnAWALFileChangesNothing.
func TestPragmaRules(t *testing.T) {
	path := newDB(t)
	for _, tc := range []struct {
		sql      string
		ro       bool
		code     storage.Code // "" for allowed
		contains string
	}{
		{"PRAGMA journal_mode = DELETE", false, storage.CodeInvalidArgument, "PRAGMA journal_mode with a value is not allowed on D1"},
		{"PRAGMA locking_mode = EXCLUSIVE", false, storage.CodeInvalidArgument, "is not allowed on D1"},
		{"PRAGMA writable_schema = 1", false, storage.CodeInvalidArgument, "is not allowed on D1"},
		{"PRAGMA trusted_schema = 1", false, storage.CodeInvalidArgument, "is not allowed on D1"},
		{"PRAGMA page_size = 8192", false, "", ""},
		{"PRAGMA auto_vacuum = 1", false, "", ""},
		{"PRAGMA user_version = 7", false, "", ""},
		{"PRAGMA journal_mode", true, "", ""},
		{"PRAGMA page_size", true, "", ""},
		{"PRAGMA table_info(t)", true, "", ""},
		{"PRAGMA integrity_check", true, "", ""},
		{"PRAGMA user_version = 8", true, storage.CodeReadOnly, "PRAGMA user_version"},
		{"PRAGMA page_size = 4096", true, storage.CodeReadOnly, "PRAGMA page_size"},
		{"PRAGMA auto_vacuum", true, storage.CodeReadOnly, "PRAGMA auto_vacuum"},
		{"PRAGMA cache_size = 10", true, storage.CodeReadOnly, "PRAGMA cache_size"},
	} {
		_, err := run(t, path, tc.ro, tc.sql)
		if storage.CodeOf(err) != tc.code || err != nil && !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%s (read-only %v): %v; want code %q saying %q", tc.sql, tc.ro, err, tc.code, tc.contains)
		}
	}
}

// D1 keeps the page size of a WAL file (SQLite ignores page_size there), so
// allowing the PRAGMA with a value cannot change how workerd's files are
// stored.
func TestPageSizeOnAWALFileChangesNothing(t *testing.T) {
	path := newDB(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA journal_mode = WAL"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := run(t, path, false, "PRAGMA page_size = 65536", "INSERT INTO t (v) VALUES ('x')"); err != nil {
		t.Fatal(err)
	}
	res, err := run(t, path, true, "PRAGMA page_size", "PRAGMA journal_mode")
	if err != nil {
		t.Fatal(err)
	}
	if got := res[0].Rows[0][0]; got != int64(4096) {
		t.Errorf("page_size = %v after setting 65536 on a WAL file, want 4096", got)
	}
	if got := res[1].Rows[0][0]; got != "wal" {
		t.Errorf("journal_mode = %v, want wal", got)
	}
}

// Under --read-only the refusal names the action and says what is run; what
// D1 never allows is invalid_argument in every mode.
func TestRefusals(t *testing.T) {
	path := newDB(t)
	for _, tc := range []struct {
		sqls     []string
		ro       bool
		code     storage.Code
		contains string
	}{
		{[]string{"INSERT INTO t (v) VALUES ('a')"}, true, storage.CodeReadOnly, "sql: the server runs with --read-only, and this statement could write (INSERT into t); only statements that read are run"},
		{[]string{"SELECT 1", "DELETE FROM t"}, true, storage.CodeReadOnly, "sql: statement 1: the server runs with --read-only, and this statement could write (DELETE from t)"},
		{[]string{"WITH x AS (SELECT 1) UPDATE t SET v = 'b'"}, true, storage.CodeReadOnly, "UPDATE of t"},
		{[]string{"CREATE TABLE u (x)"}, true, storage.CodeReadOnly, "a schema change"},
		{[]string{"ATTACH 'x.db' AS x"}, false, storage.CodeInvalidArgument, "ATTACH is not allowed on D1"},
		{[]string{"BEGIN"}, false, storage.CodeInvalidArgument, "a transaction statement"},
		{[]string{"SAVEPOINT s"}, false, storage.CodeInvalidArgument, "SAVEPOINT is not allowed"},
		{[]string{"SELECT load_extension('x')"}, false, storage.CodeInvalidArgument, "not authorized to use function: load_extension"},
		{[]string{"SELECT nope FROM t"}, false, storage.CodeInvalidArgument, "no such column: nope; nothing was changed"},
	} {
		_, err := run(t, path, tc.ro, tc.sqls...)
		if storage.CodeOf(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.contains) {
			t.Errorf("%q (read-only %v): %v; want code %q saying %q", tc.sqls, tc.ro, err, tc.code, tc.contains)
		}
	}
	// Nothing was changed by any of them.
	res, err := run(t, path, true, "SELECT count(*) FROM t")
	if err != nil || res[0].Rows[0][0] != int64(0) {
		t.Fatalf("rows after the refusals: %v, %v", res, err)
	}
}

// A batch runs in one transaction: a failing statement undoes the ones
// before it. Rows are capped, counted, and meta is D1's.
func TestBatchAndMeta(t *testing.T) {
	path := newDB(t)
	_, err := run(t, path, false, "INSERT INTO t (v) VALUES ('a')", "INSERT INTO nope VALUES (1)")
	if storage.CodeOf(err) != storage.CodeInvalidArgument || !strings.Contains(err.Error(), "sql: statement 1:") {
		t.Fatalf("failing batch: %v", err)
	}
	res, err := run(t, path, false, "INSERT INTO t (v) VALUES ('a'), ('b'), ('c')", "SELECT id, v FROM t ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if m := res[0].Meta; m.Changes != 3 || m.RowsWritten != 3 || m.LastRowID != 3 {
		t.Errorf("insert meta = %+v", m)
	}
	if r := res[1]; r.RowCount != 3 || len(r.Rows) != 3 || !reflect.DeepEqual(r.Columns, []string{"id", "v"}) || r.Meta.RowsRead != 3 {
		t.Errorf("select = %+v", r)
	}
	batch, _, _ := Split([]storage.Statement{{SQL: "SELECT v FROM t"}})
	db, _ := sql.Open("sqlite", "file:"+path)
	defer db.Close()
	conn, _ := db.Conn(t.Context())
	defer conn.Close()
	out, err := Run(t.Context(), t.Context(), conn, Batch{Stmts: batch, MaxRows: 2})
	if err != nil || out[0].RowCount != 3 || len(out[0].Rows) != 2 {
		t.Errorf("MaxRows 2: %+v, %v; want 3 counted, 2 kept", out, err)
	}
}

// A write on a connection opened read-only is read_only, said as the cause
// was: --read-only, or the backend running a batch that read as reads only.
func TestWriteOnAReadOnlyConnection(t *testing.T) {
	path := newDB(t)
	db, _ := sql.Open("sqlite", "file:"+path+"?mode=ro")
	defer db.Close()
	conn, _ := db.Conn(t.Context())
	defer conn.Close()
	batch, _, _ := Split([]storage.Statement{{SQL: "INSERT INTO t (v) VALUES ('a')"}})
	_, err := Run(t.Context(), t.Context(), conn, Batch{Stmts: batch, ConnReadOnly: true})
	if storage.CodeOf(err) != storage.CodeReadOnly || !strings.Contains(err.Error(), "the batch was run read-only") {
		t.Errorf("write on a read-only connection: %v", err)
	}
}

// Errors of the file itself (here: not a database) are the backend's.
func TestFileErrorsAreTheBackends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.sqlite")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, path, false, "SELECT * FROM t")
	if !errors.Is(err, errFile) {
		t.Errorf("a file that is not a database: %v; want the backend's FileErr", err)
	}
}

func TestBindArgs(t *testing.T) {
	got := BindArgs([]any{true, false, 7, int64(8), 1.5, "s", nil, []byte("b")})
	want := []any{int64(1), int64(0), int64(7), int64(8), 1.5, "s", nil, []byte("b")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("BindArgs = %#v, want %#v", got, want)
	}
}

func TestSplit(t *testing.T) {
	batch, reads, err := Split([]storage.Statement{{SQL: "SELECT 1; SELECT 2"}, {SQL: "SELECT ?", Params: []any{1}}})
	if err != nil || len(batch) != 3 || !reads {
		t.Errorf("Split = %q, %v, %v", batch, reads, err)
	}
	if _, reads, _ := Split([]storage.Statement{{SQL: "SELECT 1"}, {SQL: "DELETE FROM t"}}); reads {
		t.Error("a batch with a DELETE reads only")
	}
	for _, tc := range []struct {
		stmts []storage.Statement
		code  storage.Code
		says  string
	}{
		{[]storage.Statement{{SQL: " -- none"}}, storage.CodeInvalidArgument, "statement 0 holds only comments"},
		{[]storage.Statement{{SQL: "SELECT ?; SELECT ?", Params: []any{1}}}, storage.CodeInvalidArgument, "params bind to one"},
		{[]storage.Statement{{SQL: strings.Repeat("SELECT 1;", storage.MaxD1BatchStmts+1)}}, storage.CodeTooLarge, "over the limit"},
	} {
		if _, _, err := Split(tc.stmts); storage.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("Split(%.40q): %v; want %s saying %q", tc.stmts[0].SQL, err, tc.code, tc.says)
		}
	}
}
