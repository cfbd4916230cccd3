package storage_test

import (
	"math"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestValidateDatabaseName(t *testing.T) {
	for _, ok := range []string{"a", "0", "my-database", "app_db-2", strings.Repeat("a", storage.MaxDatabaseName)} {
		if err := storage.ValidateDatabaseName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "_a", "A", "my db", "my.db", "é", strings.Repeat("a", storage.MaxDatabaseName+1)} {
		if storage.CodeOf(storage.ValidateDatabaseName(bad)) != storage.CodeInvalidArgument {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestIsDatabaseID(t *testing.T) {
	for ref, want := range map[string]bool{
		"01234567-89ab-4cde-8f01-23456789abcd": true,
		"01234567-89AB-4CDE-8F01-23456789ABCD": true,
		"0123456789ab4cde8f0123456789abcd":     false, // a KV namespace id
		"01234567-89ab-4cde-8f01-23456789abcg": false,
		"01234567_89ab-4cde-8f01-23456789abcd": false,
		"my-database":                          false,
	} {
		if got := storage.IsDatabaseID(ref); got != want {
			t.Errorf("IsDatabaseID(%q) = %v", ref, got)
		}
	}
}

func TestValidateStatements(t *testing.T) {
	params := func(n int) []any { return make([]any, n) }
	for _, c := range []struct {
		stmts []storage.Statement
		code  storage.Code
	}{
		{nil, storage.CodeInvalidArgument},
		{[]storage.Statement{{SQL: "  "}}, storage.CodeInvalidArgument},
		{[]storage.Statement{{SQL: strings.Repeat("x", storage.MaxD1StatementBytes)}}, ""},
		{[]storage.Statement{{SQL: strings.Repeat("x", storage.MaxD1StatementBytes+1)}}, storage.CodeTooLarge},
		{[]storage.Statement{{SQL: "SELECT 1", Params: params(storage.MaxD1Params)}}, ""},
		{[]storage.Statement{{SQL: "SELECT 1", Params: params(storage.MaxD1Params + 1)}}, storage.CodeTooLarge},
		{[]storage.Statement{{SQL: "SELECT ?", Params: []any{nil, true, 1, int64(2), 2.5, "s", []byte{1}}}}, ""},
		{[]storage.Statement{{SQL: "SELECT ?", Params: []any{math.NaN()}}}, storage.CodeInvalidArgument},
		{[]storage.Statement{{SQL: "SELECT ?", Params: []any{map[string]any{}}}}, storage.CodeInvalidArgument},
		{[]storage.Statement{{SQL: "SELECT \xff"}}, storage.CodeInvalidArgument},
	} {
		if got := storage.CodeOf(storage.ValidateStatements(c.stmts)); got != c.code {
			t.Errorf("%.60v: code %q, want %q", c.stmts, got, c.code)
		}
	}
	err := storage.ValidateStatements([]storage.Statement{{SQL: "SELECT 1"}, {SQL: "SELECT ?", Params: params(101)}})
	if err == nil || !strings.Contains(err.Error(), "statements[1].params") {
		t.Errorf("batch error %v does not name statements[1].params", err)
	}
}

func TestD1BindingTOML(t *testing.T) {
	db := storage.Database{ID: "01234567-89ab-4cde-8f01-23456789abcd", Name: "app-db"}
	got := storage.D1BindingTOML(storage.BindingName(db.Name, "DB"), db)
	want := "[[d1_databases]]\nbinding = \"APP_DB\"\ndatabase_name = \"app-db\"\ndatabase_id = \"01234567-89ab-4cde-8f01-23456789abcd\"\n"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The Cloudflare stub and any backend without D1 answer unsupported.
func TestUnsupported(t *testing.T) {
	u := storage.Unsupported{Reason: "no D1 here"}
	_, err := u.ListDatabases(t.Context(), storage.ListOptions{})
	if storage.CodeOf(err) != storage.CodeUnsupported || !strings.Contains(err.Error(), "no D1 here") {
		t.Errorf("ListDatabases: %v", err)
	}
}

// A new database id is a lower-case version 4 UUID that IsDatabaseID takes,
// and a new one each time.
func TestNewDatabaseID(t *testing.T) {
	a, b := storage.NewDatabaseID(), storage.NewDatabaseID()
	for _, id := range []string{a, b} {
		if !storage.IsDatabaseID(id) || id != strings.ToLower(id) || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) {
			t.Errorf("NewDatabaseID() = %q: not a lower-case version 4 UUID", id)
		}
	}
	if a == b {
		t.Errorf("two ids are both %q", a)
	}
}
