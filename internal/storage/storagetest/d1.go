package storagetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// d1 runs the D1 cases. A backend without D1 (yet) answers ListDatabases
// with unsupported; its D1 cases are skipped, the rest of the suite runs.
func (s *suite) d1(t *testing.T) {
	{
		b := s.backend(t)
		_, err := storage.Guard(b, storage.Policy{}).D1().ListDatabases(t.Context(), storage.ListOptions{})
		if errors.Is(err, storage.ErrUnsupported) {
			t.Skipf("the %s backend does not offer D1 (ListDatabases: %v)", b.Name(), err)
		}
	}
	s.test(t, "CreateListGetDelete", func(t *testing.T, st *storage.Store) {
		name := dbName(t, "crud")
		db, err := st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: name})
		must(t, err, "CreateDatabase")
		if !storage.IsDatabaseID(db.ID) || db.Name != name {
			t.Fatalf("created %+v: want a UUID id and name %q", db, name)
		}
		_, err = st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: name})
		wantErr(t, err, storage.CodeAlreadyExists, "")
		page, err := st.D1().ListDatabases(t.Context(), storage.ListOptions{Prefix: name})
		must(t, err, "ListDatabases")
		if len(page.Databases) != 1 || page.Databases[0].ID != db.ID {
			t.Fatalf("ListDatabases(prefix %q) = %+v", name, page.Databases)
		}
		got, err := st.Database(t.Context(), name)
		must(t, err, "Database by name")
		if got.ID != db.ID {
			t.Errorf("Database(%q).ID = %s, want %s", name, got.ID, db.ID)
		}
		got, err = st.Database(t.Context(), db.ID)
		must(t, err, "Database by id")
		if got.Name != name {
			t.Errorf("Database(id).Name = %q, want %q", got.Name, name)
		}
		must(t, st.D1().DeleteDatabase(t.Context(), db.ID), "DeleteDatabase")
		_, err = st.D1().GetDatabase(t.Context(), db.ID)
		wantNotFound(t, err)
		_, err = st.Database(t.Context(), name)
		wantNotFound(t, err)
		wantNotFound(t, st.D1().DeleteDatabase(t.Context(), db.ID))
	})
	s.test(t, "Paging", func(t *testing.T, st *storage.Store) {
		prefix := dbName(t, "page")
		var want []string
		for i := range 5 {
			n := prefix + "-" + string(rune('a'+i))
			mustCreateDB(t, st, n)
			want = append(want, n)
		}
		var got []string
		opts := storage.ListOptions{Prefix: prefix, Limit: 2}
		for range maxPages {
			page, err := st.D1().ListDatabases(t.Context(), opts)
			must(t, err, "ListDatabases")
			for _, db := range page.Databases {
				got = append(got, db.Name)
			}
			if page.Cursor == "" {
				break
			}
			opts.Cursor = page.Cursor
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("paged names = %v, want %v", got, want)
		}
	})
	s.test(t, "QueryTypedValues", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "types"))
		res := mustQuery(t, st, db.ID, storage.QueryOptions{},
			storage.Statement{SQL: "CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n)"},
			storage.Statement{SQL: "INSERT INTO t VALUES (?, ?, ?, ?, ?)", Params: []any{int64(9007199254740993), 1.5, "héllo", []byte{0, 1, 255}, nil}},
			storage.Statement{SQL: "SELECT i, f, s, b, n FROM t"},
		)
		if len(res) != 3 {
			t.Fatalf("%d results, want 3", len(res))
		}
		if res[1].Meta.Changes != 1 || res[1].Meta.LastRowID != 1 {
			t.Errorf("INSERT meta = %+v, want 1 change, last row id 1", res[1].Meta)
		}
		if want := []string{"i", "f", "s", "b", "n"}; !reflect.DeepEqual(res[2].Columns, want) {
			t.Errorf("columns = %v, want %v", res[2].Columns, want)
		}
		want := [][]any{{int64(9007199254740993), 1.5, "héllo", []byte{0, 1, 255}, nil}}
		if !reflect.DeepEqual(res[2].Rows, want) {
			t.Errorf("rows = %#v, want %#v", res[2].Rows, want)
		}
	})
	s.test(t, "MaxRowsCountsTheRest", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "maxrows"))
		res := mustQuery(t, st, db.ID, storage.QueryOptions{MaxRows: 4}, storage.Statement{
			SQL: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 25) SELECT x FROM c"})
		if len(res[0].Rows) != 4 || res[0].RowCount != 25 || res[0].Rows[3][0] != int64(4) {
			t.Errorf("MaxRows 4 of 25: kept %v, RowCount %d", res[0].Rows, res[0].RowCount)
		}
	})
	s.test(t, "HostileParamsAreBound", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "bind"))
		hostile := "'); DROP TABLE t; --"
		res := mustQuery(t, st, db.ID, storage.QueryOptions{},
			storage.Statement{SQL: "CREATE TABLE t (s TEXT)"},
			storage.Statement{SQL: "INSERT INTO t (s) VALUES (?)", Params: []any{hostile}},
			storage.Statement{SQL: "SELECT s FROM t WHERE s = ?", Params: []any{hostile}},
		)
		if len(res[2].Rows) != 1 || res[2].Rows[0][0] != hostile {
			t.Fatalf("rows = %v, want the hostile string stored as it is", res[2].Rows)
		}
	})
	s.test(t, "BatchIsOneTransaction", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "tx"))
		mustQuery(t, st, db.ID, storage.QueryOptions{}, storage.Statement{SQL: "CREATE TABLE t (x INTEGER PRIMARY KEY)"})
		_, err := st.D1().Query(t.Context(), db.ID, []storage.Statement{
			{SQL: "INSERT INTO t VALUES (1)"},
			{SQL: "INSERT INTO t VALUES (1)"}, // a constraint error
		}, storage.QueryOptions{})
		wantErr(t, err, storage.CodeInvalidArgument, "")
		res := mustQuery(t, st, db.ID, storage.QueryOptions{}, storage.Statement{SQL: "SELECT count(*) FROM t"})
		if res[0].Rows[0][0] != int64(0) {
			t.Errorf("after a failed batch the table holds %v rows, want 0", res[0].Rows[0][0])
		}
		_, err = st.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "SELEC nonsense"}}, storage.QueryOptions{})
		wantErr(t, err, storage.CodeInvalidArgument, "sql")
	})
	s.testBackend(t, "ReadOnlyRefusals", func(t *testing.T, b storage.Backend) {
		rw := storage.Guard(b, storage.Policy{})
		db := mustCreateDB(t, rw, dbName(t, "ro"))
		mustQuery(t, rw, db.ID, storage.QueryOptions{},
			storage.Statement{SQL: "CREATE TABLE t (x INTEGER)"},
			storage.Statement{SQL: "INSERT INTO t VALUES (1), (2)"})
		ro := storage.Guard(b, storage.Policy{ReadOnly: true})
		for _, sql := range []string{
			"DELETE FROM t",
			"SELECT 1; DROP TABLE t",
			"WITH doomed AS (SELECT x FROM t) DELETE FROM t WHERE x IN (SELECT x FROM doomed)",
			"PRAGMA writable_schema=1",
			"PRAGMA user_version=7",
			"ATTACH DATABASE 'other.db' AS other",
			"INSERT INTO t VALUES (3)",
			"CREATE TABLE u (y)",
			"UPDATE t SET x = 9",
			"BEGIN",
			"CREATE TEMP TABLE tmp (z)",
		} {
			_, err := ro.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{})
			if code := storage.CodeOf(err); code != storage.CodeReadOnly && !(code == storage.CodeInvalidArgument && isNeverAllowed(sql)) {
				t.Errorf("read-only %q: got %v, want read_only", sql, err)
			}
		}
		// Nothing changed, and reads still work.
		res := mustQuery(t, ro, db.ID, storage.QueryOptions{},
			storage.Statement{SQL: "SELECT count(*) FROM t"},
			storage.Statement{SQL: "WITH s AS (SELECT x FROM t) SELECT sum(x) FROM s"},
			storage.Statement{SQL: "PRAGMA table_info(t)"},
			storage.Statement{SQL: "PRAGMA user_version"})
		if res[0].Rows[0][0] != int64(2) || res[1].Rows[0][0] != int64(3) {
			t.Errorf("after refusals: count %v, sum %v; want 2 and 3", res[0].Rows[0][0], res[1].Rows[0][0])
		}
		// The unguarded backend obeys QueryOptions.ReadOnly too.
		_, err := b.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: "DELETE FROM t"}}, storage.QueryOptions{ReadOnly: true})
		wantErr(t, err, storage.CodeReadOnly, "")
		_, err = ro.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: dbName(t, "ro-new")})
		wantErr(t, err, storage.CodeReadOnly, "")
		wantErr(t, ro.D1().DeleteDatabase(t.Context(), db.ID), storage.CodeReadOnly, "")
	})
	s.test(t, "NeverAllowed", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "never"))
		for _, sql := range []string{"ATTACH DATABASE 'x.db' AS x", "BEGIN TRANSACTION", "PRAGMA writable_schema=1", "SAVEPOINT s"} {
			_, err := st.D1().Query(t.Context(), db.ID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{})
			wantErr(t, err, storage.CodeInvalidArgument, "sql")
		}
	})
	s.test(t, "Limits", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "limits"))
		q := func(s storage.Statement) error {
			_, err := st.D1().Query(t.Context(), db.ID, []storage.Statement{s}, storage.QueryOptions{})
			return err
		}
		long := "SELECT 1 " + strings.Repeat(" ", storage.MaxD1StatementBytes+1-len("SELECT 1 "))
		wantErr(t, q(storage.Statement{SQL: long}), storage.CodeTooLarge, "sql", storage.MaxD1StatementBytes)
		atLimit := "SELECT 1 " + strings.Repeat(" ", storage.MaxD1StatementBytes-len("SELECT 1 "))
		must(t, q(storage.Statement{SQL: atLimit}), "a statement of exactly 100,000 bytes")
		params := make([]any, storage.MaxD1Params+1)
		sql := "SELECT " + strings.TrimSuffix(strings.Repeat("?,", len(params)), ",")
		wantErr(t, q(storage.Statement{SQL: sql, Params: params}), storage.CodeTooLarge, "params", storage.MaxD1Params)
		params = params[:storage.MaxD1Params]
		sql = "SELECT " + strings.TrimSuffix(strings.Repeat("?,", len(params)), ",")
		must(t, q(storage.Statement{SQL: sql, Params: params}), "100 parameters")
		wantErr(t, q(storage.Statement{SQL: "SELECT ?", Params: []any{struct{}{}}}), storage.CodeInvalidArgument, "params[0]")
		for _, bad := range []string{"", "Upper", "-lead", "_lead", "has space", "dot.name", strings.Repeat("a", storage.MaxDatabaseName+1)} {
			_, err := st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: bad})
			wantErr(t, err, storage.CodeInvalidArgument, "name")
		}
		_, err := st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: dbName(t, "hint"), PrimaryLocationHint: "mars"})
		wantErr(t, err, storage.CodeInvalidArgument, "primary_location_hint")
		_, err = st.Database(t.Context(), "Not_A_Name")
		wantErr(t, err, storage.CodeInvalidArgument, "database")
	})
	s.testBackend(t, "AllowList", func(t *testing.T, b storage.Backend) {
		rw := storage.Guard(b, storage.Policy{})
		in := mustCreateDB(t, rw, dbName(t, "in"))
		out := mustCreateDB(t, rw, dbName(t, "out"))
		st := storage.Guard(b, storage.Policy{Databases: []string{in.Name}})
		page, err := st.D1().ListDatabases(t.Context(), storage.ListOptions{})
		must(t, err, "ListDatabases")
		if len(page.Databases) != 1 || page.Databases[0].ID != in.ID {
			t.Errorf("allow-listed listing = %+v, want only %s", page.Databases, in.Name)
		}
		_, err = st.Database(t.Context(), out.Name)
		wantNotFound(t, err)
		_, err = st.Database(t.Context(), out.ID)
		wantNotFound(t, err)
		_, err = st.D1().Query(t.Context(), out.ID, []storage.Statement{{SQL: "SELECT 1"}}, storage.QueryOptions{})
		wantNotFound(t, err)
		_, err = st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: dbName(t, "other")})
		wantErr(t, err, storage.CodePermissionDenied, "name")
	})
	s.test(t, "WranglerBlock", func(t *testing.T, st *storage.Store) {
		db := mustCreateDB(t, st, dbName(t, "wrangler"))
		got := storage.D1BindingTOML(storage.BindingName(db.Name, "DB"), db)
		want := "[[d1_databases]]\nbinding = \"" + storage.BindingName(db.Name, "DB") + "\"\ndatabase_name = \"" + db.Name + "\"\ndatabase_id = \"" + db.ID + "\"\n"
		if got != want {
			t.Errorf("D1BindingTOML = %q, want %q", got, want)
		}
	})
}

func isNeverAllowed(sql string) bool {
	for _, p := range []string{"ATTACH", "PRAGMA writable_schema", "BEGIN"} {
		if strings.HasPrefix(sql, p) {
			return true
		}
	}
	return false
}

// dbName returns a D1 database name unique to this run.
func dbName(t *testing.T, hint string) string {
	t.Helper()
	return "st-" + hint + "-" + randomHex(t, 10)
}

func mustCreateDB(t *testing.T, st *storage.Store, name string) storage.Database {
	t.Helper()
	db, err := st.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: name})
	must(t, err, "CreateDatabase "+name)
	return db
}

func mustQuery(t *testing.T, st *storage.Store, id string, opts storage.QueryOptions, stmts ...storage.Statement) []storage.QueryResult {
	t.Helper()
	res, err := st.D1().Query(t.Context(), id, stmts, opts)
	must(t, err, "Query")
	if len(res) != len(stmts) {
		t.Fatalf("Query returned %d results for %d statements", len(res), len(stmts))
	}
	return res
}
