package storage

import (
	"context"
	"fmt"
	"slices"
)

type guardedD1 struct {
	inner   D1
	policy  Policy
	changes *observers
}

// Database resolves a D1 database reference: a UUID is an id, looked up;
// anything else is a name, found by listing. Databases outside
// --allow-databases are not found.
func (s *Store) Database(ctx context.Context, ref string) (Database, error) {
	return s.d1.resolve(ctx, ref)
}

func notFoundDB(ref string) error {
	return Errorf(CodeNotFound, "database %q: no such D1 database (call list_d1_databases to see them)", ref)
}

func (g *guardedD1) allowed(db Database) bool {
	allow := g.policy.Databases
	return len(allow) == 0 || slices.Contains(allow, db.ID) || (db.Name != "" && slices.Contains(allow, db.Name))
}

func (g *guardedD1) write() error {
	if g.policy.ReadOnly {
		return Errorf(CodeReadOnly, "the server runs with --read-only: D1 databases cannot be created or deleted")
	}
	return nil
}

func (g *guardedD1) resolve(ctx context.Context, ref string) (Database, error) {
	switch {
	case ref == "":
		return Database{}, invalid("database: give a database id or name")
	case IsDatabaseID(ref):
		db, err := g.inner.GetDatabase(ctx, ref)
		if err != nil {
			return Database{}, err
		}
		if !g.allowed(db) {
			return Database{}, notFoundDB(ref)
		}
		return db, nil
	}
	if err := validateDatabaseName("database", ref); err != nil {
		return Database{}, err
	}
	for db, err := range AllDatabases(ctx, g.inner, ListOptions{Prefix: ref}) {
		if err != nil {
			return Database{}, err
		}
		if db.Name == ref {
			if !g.allowed(db) {
				return Database{}, notFoundDB(ref)
			}
			return db, nil
		}
	}
	return Database{}, notFoundDB(ref)
}

// check confirms that database id exists and is reachable.
func (g *guardedD1) check(ctx context.Context, id string) (Database, error) {
	if !IsDatabaseID(id) {
		return Database{}, invalid("database: %q is not a D1 database id (a UUID); Store.Database resolves names", id)
	}
	return g.resolve(ctx, id)
}

func (g *guardedD1) ListDatabases(ctx context.Context, opts ListOptions) (DatabasePage, error) {
	if err := ValidateLimit("limit", opts.Limit, 1, MaxDatabaseList); err != nil {
		return DatabasePage{}, err
	}
	page, err := g.inner.ListDatabases(ctx, opts)
	if err != nil {
		return DatabasePage{}, err
	}
	page.Databases = slices.DeleteFunc(page.Databases, func(db Database) bool { return !g.allowed(db) })
	return page, nil
}

func (g *guardedD1) GetDatabase(ctx context.Context, id string) (Database, error) {
	return g.check(ctx, id)
}

func (g *guardedD1) CreateDatabase(ctx context.Context, spec DatabaseSpec) (Database, error) {
	if err := g.write(); err != nil {
		return Database{}, err
	}
	if err := ValidateDatabaseSpec(spec); err != nil {
		return Database{}, err
	}
	if len(g.policy.Databases) > 0 && !slices.Contains(g.policy.Databases, spec.Name) {
		return Database{}, Errorf(CodePermissionDenied, "name: %q is outside --allow-databases, so it could not be used once created", spec.Name)
	}
	db, err := g.inner.CreateDatabase(ctx, spec)
	if err == nil {
		g.changes.notify(ctx, Change{Kind: DatabaseCreated, Database: db})
	}
	return db, err
}

func (g *guardedD1) DeleteDatabase(ctx context.Context, id string) error {
	if err := g.write(); err != nil {
		return err
	}
	db, err := g.check(ctx, id)
	if err != nil {
		return err
	}
	if err := g.inner.DeleteDatabase(ctx, id); err != nil {
		return err
	}
	g.changes.notify(ctx, Change{Kind: DatabaseDeleted, Database: db})
	return nil
}

// Query validates the batch against D1's limits and, under --read-only,
// refuses, before any I/O, a batch with a statement that ClassifySQL does
// not find read-only; it then asks the backend to run only statements that
// cannot write, which the local backend decides again with SQLite's own
// authorizer.
func (g *guardedD1) Query(ctx context.Context, id string, stmts []Statement, opts QueryOptions) ([]QueryResult, error) {
	if err := ValidateStatements(stmts); err != nil {
		return nil, err
	}
	if g.policy.ReadOnly {
		if err := CheckReadOnlySQL(stmts); err != nil {
			return nil, err
		}
	}
	if _, err := g.check(ctx, id); err != nil {
		return nil, err
	}
	if g.policy.ReadOnly {
		opts.ReadOnly = true
	}
	return g.inner.Query(ctx, id, stmts, opts)
}

// CheckReadOnlySQL refuses, with ErrReadOnly naming the statement, a batch
// holding a statement that ClassifySQL does not find read-only. Backends
// that cannot ask SQLite call it for QueryOptions.ReadOnly.
func CheckReadOnlySQL(stmts []Statement) error {
	for i, s := range stmts {
		if _, ok, reason := ClassifySQL(s.SQL); !ok {
			where := "sql"
			if len(stmts) > 1 {
				where = fmt.Sprintf("statements[%d]", i)
			}
			return Errorf(CodeReadOnly,
				"%s: the server runs with --read-only, and %s; only statements that read are run; nothing was changed", where, reason)
		}
	}
	return nil
}
