package storage

import (
	"reflect"
	"strings"
	"testing"
)

func TestClassifySQL(t *testing.T) {
	for _, c := range []struct {
		sql      string
		readOnly bool
		stmts    int // -1: do not check
	}{
		// Reads.
		{"SELECT 1", true, 1},
		{"select * from t where x = ?", true, 1},
		{"  SeLeCt 1  ", true, 1},
		{"VALUES (1), (2)", true, 1},
		{"SELECT 1; SELECT 2;", true, 2},
		{"select 'a;drop table t'", true, 1},
		{`select "a;drop", [b;drop], ` + "`c;drop`" + ` from t`, true, 1},
		{"select 'it''s; drop table t'", true, 1},
		{"SELECT 1 -- ; DROP TABLE t", true, 1},
		{"SELECT 1 /* ; DROP TABLE t */", true, 1},
		{"/* lead */ -- line\n SELECT 1", true, 1},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true, 1},
		{"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5) SELECT x FROM c", true, 1},
		{"WITH a AS MATERIALIZED (SELECT 1), b(y) AS NOT MATERIALIZED (VALUES (2)) SELECT * FROM a, b", true, 1},
		{"WITH s AS (SELECT x FROM t) SELECT sum(x) FROM s", true, 1},
		{"EXPLAIN SELECT 1", true, 1},
		{"EXPLAIN QUERY PLAN SELECT * FROM t", true, 1},
		{"PRAGMA table_info(t)", true, 1},
		{"PRAGMA main.table_info(t)", true, 1},
		{"pragma TABLE_LIST", true, 1},
		{"PRAGMA user_version", true, 1},
		{"PRAGMA writable_schema", true, 1},
		{"PRAGMA query_only", true, 1},
		{"PRAGMA foreign_key_check", true, 1},
		{"-- only a comment", true, 0},
		{"", true, 0},
		{";;", true, 0},

		// Writes, and whatever is not known to be a read.
		{"DELETE FROM t", false, 1},
		{"delete from t", false, 1},
		{"DeLeTe FROM t", false, 1},
		{"SELECT 1; DROP TABLE t", false, 2},
		{"SELECT 1;DROP TABLE t", false, 2},
		{"select 1; /* hide */ drop table t", false, 2},
		{"SELECT 1 -- comment\n; DELETE FROM t", false, 2},
		{"/* SELECT */ DELETE FROM t", false, 1},
		{"-- SELECT\nDELETE FROM t", false, 1},
		{"WITH x AS (SELECT 1) DELETE FROM t", false, 1},
		{"WITH doomed AS (SELECT x FROM t) DELETE FROM t WHERE x IN (SELECT x FROM doomed)", false, 1},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", false, 1},
		{"WITH x AS (SELECT 1) UPDATE t SET y = 1", false, 1},
		{"WITH x AS (SELECT 1) REPLACE INTO t VALUES (1)", false, 1},
		{"WITH x AS (DELETE FROM t) SELECT 1", false, 1},
		{"WITH x AS (SELECT 1)", false, 1},
		{"WITH (SELECT 1) SELECT 1", false, 1},
		{"PRAGMA writable_schema=1", false, 1},
		{"PRAGMA writable_schema = ON", false, 1},
		{"PRAGMA writable_schema(1)", false, 1},
		{"PRAGMA user_version=7", false, 1},
		{"PRAGMA main.user_version = 7", false, 1},
		{"PRAGMA journal_mode=DELETE", false, 1},
		{"PRAGMA optimize", false, 1},
		{"PRAGMA wal_checkpoint", false, 1},
		{"PRAGMA incremental_vacuum", false, 1},
		{"PRAGMA", false, 1},
		{"ATTACH 'x' AS y", false, 1},
		{"ATTACH DATABASE 'other.db' AS other", false, 1},
		{"DETACH y", false, 1},
		{"INSERT INTO t VALUES (1)", false, 1},
		{"insert or replace into t values (1)", false, 1},
		{"REPLACE INTO t VALUES (1)", false, 1},
		{"UPDATE t SET x = 9", false, 1},
		{"CREATE TABLE u (y)", false, 1},
		{"CREATE TEMP TABLE tmp (z)", false, 1},
		{"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END; SELECT 1", false, 2},
		{"DROP TABLE t", false, 1},
		{"ALTER TABLE t ADD COLUMN z", false, 1},
		{"VACUUM", false, 1},
		{"REINDEX", false, 1},
		{"ANALYZE", false, 1},
		{"BEGIN", false, 1},
		{"BEGIN TRANSACTION", false, 1},
		{"COMMIT", false, 1},
		{"END", false, 1},
		{"ROLLBACK", false, 1},
		{"SAVEPOINT s", false, 1},
		{"RELEASE s", false, 1},
		{"EXPLAIN DELETE FROM t", false, 1},
		{"EXPLAIN QUERY PLAN WITH x AS (SELECT 1) DELETE FROM t", false, 1},
		{"SELEC nonsense", false, 1},
		{"(SELECT 1)", false, 1},
		{"'SELECT' 1", false, 1},
		{"SELECT 'unterminated; DROP TABLE t", true, 1},
		{"DROP TABLE t /* unterminated", false, 1},
	} {
		stmts, ro, reason := ClassifySQL(c.sql)
		if ro != c.readOnly {
			t.Errorf("ClassifySQL(%q) read-only = %v (%s), want %v", c.sql, ro, reason, c.readOnly)
		}
		if !ro && reason == "" {
			t.Errorf("ClassifySQL(%q): no reason given for a write", c.sql)
		}
		if ro && reason != "" {
			t.Errorf("ClassifySQL(%q): reason %q for a read", c.sql, reason)
		}
		if c.stmts >= 0 && len(stmts) != c.stmts {
			t.Errorf("ClassifySQL(%q) = %d statements %q, want %d", c.sql, len(stmts), stmts, c.stmts)
		}
	}
}

func TestClassifySQLSplits(t *testing.T) {
	stmts, _, _ := ClassifySQL(" SELECT 'a;b' ; -- x\n SELECT [c;d];\nCREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; END ;")
	want := []string{"SELECT 'a;b'", "-- x\n SELECT [c;d]", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 1; END"}
	if !reflect.DeepEqual(stmts, want) {
		t.Errorf("split = %q, want %q", stmts, want)
	}
}

func TestClassifySQLReasonNamesTheStatement(t *testing.T) {
	_, _, reason := ClassifySQL("SELECT 1; DROP TABLE t")
	if !strings.Contains(reason, "statement 2 of 2") || !strings.Contains(reason, "DROP TABLE t") || !strings.Contains(reason, "DROP") {
		t.Errorf("reason %q does not name statement 2 and its DROP", reason)
	}
}

func TestGuardReadOnlyClassifiesBeforeTheBackend(t *testing.T) {
	for _, c := range []struct {
		stmts []Statement
		want  string
	}{
		{[]Statement{{SQL: "DELETE FROM t"}}, "sql: "},
		{[]Statement{{SQL: "SELECT 1"}, {SQL: "SELECT 1; DROP TABLE t"}}, "statements[1]: "},
	} {
		err := CheckReadOnlySQL(c.stmts)
		if CodeOf(err) != CodeReadOnly || !strings.HasPrefix(err.Error(), c.want) && !strings.Contains(err.Error(), c.want) {
			t.Errorf("CheckReadOnlySQL(%v) = %v, want read_only naming %q", c.stmts, err, c.want)
		}
	}
	if err := CheckReadOnlySQL([]Statement{{SQL: "SELECT 1"}, {SQL: "PRAGMA table_info(t)"}}); err != nil {
		t.Errorf("CheckReadOnlySQL of reads = %v", err)
	}
}

// writeHeads are the keywords that begin a statement that writes.
var writeHeads = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "REPLACE": true, "CREATE": true, "DROP": true, "ALTER": true,
	"ATTACH": true, "DETACH": true, "VACUUM": true, "REINDEX": true, "ANALYZE": true, "BEGIN": true, "COMMIT": true,
	"END": true, "ROLLBACK": true, "SAVEPOINT": true, "RELEASE": true,
}

func FuzzClassifySQL(f *testing.F) {
	for _, s := range []string{
		"SELECT 1", "SELECT 1; DROP TABLE t", "WITH x AS (SELECT 1) DELETE FROM t", "PRAGMA writable_schema=1",
		"ATTACH 'x' AS y", "select 'a;drop table t'", "/* x */ DELETE FROM t", "-- x\nSELECT 1", "EXPLAIN QUERY PLAN SELECT 1",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT x FROM c", "PRAGMA table_info(t)",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END; SELECT 1", "[a", "'", "\"", "`", "/*", "((((",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, ro, reason := ClassifySQL(sql)
		if ro == (reason != "") {
			t.Fatalf("ClassifySQL(%q): read-only %v with reason %q", sql, ro, reason)
		}
		if !ro {
			return
		}
		for _, st := range stmts {
			// Each statement's head, found independently of the
			// classifier's tokens: after leading whitespace and comments.
			head := firstWord(st)
			if writeHeads[head] {
				t.Fatalf("ClassifySQL(%q) called read-only a statement headed %s: %q", sql, head, st)
			}
			switch head {
			case "SELECT", "VALUES", "WITH", "EXPLAIN", "PRAGMA":
			default:
				t.Fatalf("ClassifySQL(%q) called read-only a statement headed %q: %q", sql, head, st)
			}
			if head == "WITH" || head == "EXPLAIN" {
				// Whatever follows, nothing at depth 0 may be a write
				// keyword that starts the main statement.
				if _, again, _ := ClassifySQL(st); !again {
					t.Fatalf("ClassifySQL(%q): statement %q read-only as part, not alone", sql, st)
				}
			}
		}
	})
}

// firstWord is the first word of s after whitespace and comments,
// upper-cased.
func firstWord(s string) string {
	for {
		s = strings.TrimLeft(s, " \t\r\n\f\v")
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		default:
			i := 0
			for i < len(s) && isSQLWordByte(s[i]) {
				i++
			}
			return strings.ToUpper(s[:i])
		}
	}
}

func TestNeverAllowedOnD1(t *testing.T) {
	for sql, want := range map[string]bool{
		"ATTACH DATABASE 'x.db' AS x": true, "BEGIN TRANSACTION": true, "PRAGMA writable_schema=1": true,
		"SAVEPOINT s": true, "SELECT 1; COMMIT": true, "detach x": true, "PRAGMA main.writable_schema = 1": true,
		"SELECT 1": false, "PRAGMA writable_schema": false, "select 'BEGIN'": false, "DELETE FROM t": false,
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END": false,
	} {
		if got := NeverAllowedOnD1(sql); (got != "") != want {
			t.Errorf("NeverAllowedOnD1(%q) = %q, want refused %v", sql, got, want)
		}
	}
}
