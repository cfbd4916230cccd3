package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/durable"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestSplitSQL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1; DROP TABLE t", []string{"SELECT 1", "DROP TABLE t"}},
		{"SELECT ';' AS s; SELECT \"a;b\" FROM [x;y]", []string{"SELECT ';' AS s", "SELECT \"a;b\" FROM [x;y]"}},
		{"SELECT 'it''s; fine'", []string{"SELECT 'it''s; fine'"}},
		{"-- only; a comment\n/* and ; another */ ;;", nil},
		{"SELECT 1 /* ; */ -- ;\n; SELECT 2;", []string{"SELECT 1 /* ; */ -- ;", "SELECT 2"}},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM u; END; SELECT 3",
			[]string{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; DELETE FROM u; END", "SELECT 3"}},
		{"create temp trigger tr after insert on t begin select 1; end;", []string{"create temp trigger tr after insert on t begin select 1; end"}},
	} {
		if got, _, _ := storage.ClassifySQL(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ClassifySQL(%q) statements = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestD1QueryTimeLimit(t *testing.T) {
	b := New(t.TempDir(), WithD1Timeout(100*time.Millisecond))
	defer b.Close()
	db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "slow"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.D1().Query(t.Context(), db.ID, []storage.Statement{{
		SQL: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"}}, storage.QueryOptions{})
	if storage.CodeOf(err) != storage.CodeUnavailable {
		t.Fatalf("endless query: got %v, want unavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the endless query was interrupted after %s", d)
	}
}

func TestD1FilesAndDelete(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	defer b.Close()
	st := storage.Guard(b, storage.Policy{})
	db, err := st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "files"})
	if err != nil {
		t.Fatal(err)
	}
	path := dir + "/d1/" + db.ID + ".sqlite"
	if _, err := st.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "CREATE TABLE t (x)"}}, storage.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Fatalf("database file %s: %v", path, err)
	}
	if err := st.D1().DeleteDatabase(t.Context(), db.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("after delete, %s: %v; want it removed", path, err)
	}
}

// Read-only mode is enforced by SQLite even on a database whose file may
// not be written: the connection is opened mode=ro.
func TestD1ReadOnlyOpensReadOnly(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	defer b.Close()
	db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "ro"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "CREATE TABLE t (x)"}}, storage.QueryOptions{}); err != nil {
		t.Fatal(err)
	}
	if !d1DSNHas(d1DSN("/x", true), "mode=ro") || !d1DSNHas(d1DSN("/x", true), "query_only") {
		t.Errorf("read-only DSN %s lacks mode=ro or query_only", d1DSN("/x", true))
	}
	res, err := b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "PRAGMA query_only"}}, storage.QueryOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Rows[0][0] != int64(1) {
		t.Errorf("PRAGMA query_only = %v on a read-only query, want 1", res[0].Rows[0][0])
	}
}

func d1DSNHas(dsn, part string) bool { return strings.Contains(dsn, part) }

// The sweep removes D1 files that no catalogue row names (a create or a
// delete cut short), once they are old; a database's own files, young
// files and files of other names stay.
func TestSweepD1Files(t *testing.T) {
	b, clk := newTestBackend(t)
	db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "kept"})
	check(t, err)
	_, err = b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "CREATE TABLE t (x); INSERT INTO t VALUES (42)"}}, storage.QueryOptions{})
	check(t, err)
	st := openedStore(t, b)
	<-st.sweepDone // the sweep of the open; this test runs its own

	orphan, deleted, young := storage.NewDatabaseID(), storage.NewDatabaseID(), storage.NewDatabaseID()
	dir := filepath.Dir(st.d1Path(db.ID))
	files := map[string]bool{ // path: kept
		st.d1Path(orphan):                                     false,
		st.d1Path(deleted) + "-wal":                           false,
		st.d1Path(deleted) + "-shm":                           false,
		st.d1Path(young):                                      true,
		st.d1Path(db.ID) + "-journal":                         true, // a row names it
		filepath.Join(dir, "notes.txt"):                       true,
		filepath.Join(dir, strings.ToUpper(orphan)+".sqlite"): true, // not a name newUUID makes
	}
	for path := range files {
		check(t, os.WriteFile(path, []byte("x"), 0o600))
	}
	clk.advance(2 * time.Hour)
	check(t, os.Chtimes(st.d1Path(young), clk.now(), clk.now()))
	check(t, st.sweep(t.Context()))

	for path, wantKept := range files {
		if _, err := os.Stat(path); (err == nil) != wantKept {
			t.Errorf("%s: kept = %v, want %v", filepath.Base(path), err == nil, wantKept)
		}
	}
	check(t, os.Remove(st.d1Path(db.ID)+"-journal")) // not a real journal: SQLite would roll it back
	res, err := b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "SELECT x FROM t"}}, storage.QueryOptions{ReadOnly: true})
	check(t, err)
	if len(res) != 1 || len(res[0].Rows) != 1 || fmt.Sprint(res[0].Rows[0][0]) != "42" {
		t.Errorf("the kept database after the sweep: %+v", res)
	}
}

// A database whose file disappears between the catalogue lookup and the open
// (deleted by another process) is not_found, in either mode, and its file
// is not recreated empty: only CreateDatabase creates a D1 file.
func TestD1FileGoneBetweenLookupAndOpen(t *testing.T) {
	for _, readOnly := range []bool{false, true} {
		t.Run(fmt.Sprintf("readOnly=%v", readOnly), func(t *testing.T) {
			dir := t.TempDir()
			b := New(dir)
			defer b.Close()
			db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "gone"})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "d1", db.ID+".sqlite")
			b.d1Opening = func(p string) {
				if p != path {
					t.Errorf("opening %s, want %s", p, path)
				}
				if err := os.Remove(p); err != nil {
					t.Error(err)
				}
			}
			_, err = b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "CREATE TABLE t (x)"}}, storage.QueryOptions{ReadOnly: readOnly})
			wantCode(t, err, storage.CodeNotFound, db.ID)
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("after the query, %s: %v; want no file", path, err)
			}
		})
	}
}

// SQLite's authorizer and storage.ClassifySQL decide --read-only from one
// list of PRAGMAs (storage's), so they agree on each: a PRAGMA read, and
// one given an argument in parentheses (a table to report on, or a value
// to set).
func TestD1PragmasAgreeWithClassifySQL(t *testing.T) {
	b := New(t.TempDir())
	defer b.Close()
	db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "pragmas"})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{
		"table_info", "table_list", "index_list", "foreign_key_check", "integrity_check", "pragma_list", "compile_options",
		"user_version", "schema_version", "application_id", "page_count", "foreign_keys", "encoding",
		"writable_schema", "journal_mode", "locking_mode", "query_only", "mmap_size", "trusted_schema",
		"temp_store_directory", "data_store_directory",
		"cache_size", "synchronous", "recursive_triggers", "optimize", "shrink_memory",
	}
	for _, name := range names {
		for _, sql := range []string{"PRAGMA " + name, "PRAGMA " + name + "(0)"} {
			_, classified, _ := storage.ClassifySQL(sql)
			_, err := b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{ReadOnly: true})
			refused := storage.CodeOf(err) == storage.CodeReadOnly ||
				err != nil && strings.Contains(err.Error(), "is not allowed on D1")
			if refused == classified {
				t.Errorf("%s: ClassifySQL finds it read-only: %v; the authorizer refuses it: %v (%v)", sql, classified, refused, err)
			}
		}
	}
}

// CreateDatabase makes the new file's directory entry durable before the
// catalogue row commits: with the sync failing, no row is written (and the
// file is removed), so no committed row can name a file a crash lost.
func TestCreateDatabaseSyncsDirBeforeRow(t *testing.T) {
	b, _ := newTestBackend(t)
	st := openedStore(t, b)
	var synced []string
	st.syncDir = func(dir string) error {
		synced = append(synced, dir)
		return errors.New("injected: sync failed")
	}
	_, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "nosync"})
	wantCode(t, err, storage.CodeInternal, "injected")
	if want := filepath.Join(b.dir, d1Dir); len(synced) != 1 || synced[0] != want {
		t.Errorf("synced %q, want [%q]", synced, want)
	}
	var rows int
	check(t, st.db.QueryRow("SELECT count(*) FROM d1_databases").Scan(&rows))
	if rows != 0 {
		t.Errorf("%d catalogue rows after a failed sync, want 0", rows)
	}
	if files, _ := os.ReadDir(filepath.Join(b.dir, d1Dir)); len(files) != 0 {
		t.Errorf("files left in d1/: %v", files)
	}

	st.syncDir = durable.SyncDir
	if _, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "nosync"}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

// A blob whose directory entry cannot be made durable is not installed: the
// upload fails, no row names it, and no file is left behind.
func TestUploadSyncsBlobDirBeforeRow(t *testing.T) {
	b, _ := newTestBackend(t)
	mkBucket(t, b, "bucket")
	st := openedStore(t, b)
	before := len(blobFiles(t, st.dir))
	st.syncDir = func(string) error { return errors.New("injected: sync failed") }
	_, err := b.R2().PutObject(t.Context(), storage.ObjectPut{Bucket: "bucket", Key: "o", Body: strings.NewReader("bytes"), Size: 5})
	wantCode(t, err, storage.CodeInternal, "injected")
	if _, err := b.R2().HeadObject(t.Context(), "bucket", "o"); storage.CodeOf(err) != storage.CodeNotFound {
		t.Errorf("the object exists after a failed sync: %v", err)
	}
	if n := len(blobFiles(t, st.dir)); n != before {
		t.Errorf("%d blob files after a failed sync, want %d", n, before)
	}
	st.syncDir = durable.SyncDir
	if _, err := b.R2().PutObject(t.Context(), storage.ObjectPut{Bucket: "bucket", Key: "o", Body: strings.NewReader("bytes"), Size: 5}); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}
