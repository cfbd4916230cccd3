package miniflare

import (
	"context"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The D1 rules are internal/d1sql's, the same as the embedded backend's:
// PRAGMAs D1 allows with a value (page_size, auto_vacuum; on workerd's WAL
// files page_size changes nothing) run, and the --read-only refusal names
// the action.
func TestD1RulesAreTheSharedOnes(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	d1 := s.D1()
	q := func(sql string, ro bool) error {
		_, err := d1.Query(ctx, fixtureDB.ID, []storage.Statement{{SQL: sql}}, storage.QueryOptions{ReadOnly: ro})
		return err
	}
	if err := q("CREATE TABLE t (id INTEGER PRIMARY KEY, v)", false); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"PRAGMA page_size = 8192", "PRAGMA auto_vacuum = 1"} {
		if err := q(sql, false); err != nil {
			t.Errorf("%s: %v; D1 allows it", sql, err)
		}
	}
	mustCode(t, q("DELETE FROM t", true), storage.CodeReadOnly, "could write (DELETE from t); only statements that read are run")
	mustCode(t, q("PRAGMA auto_vacuum", true), storage.CodeReadOnly, "PRAGMA auto_vacuum")
	mustCode(t, q("PRAGMA locking_mode = EXCLUSIVE", false), storage.CodeInvalidArgument, "PRAGMA locking_mode with a value is not allowed on D1")
}
