package miniflare

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// A D1 database under wrangler dev is the SQLite storage of a Durable
// Object (D1DatabaseObject): the user's tables and nothing of Miniflare's
// (checked against a real run: sqlite_master holds only what the Worker
// created). So a query is run on the file as it is, in one transaction.

// d1Store is D1 over the persisted state.
type d1Store struct{ s *Store }

var _ storage.D1 = (*d1Store)(nil)

func errNoDatabase(id string) error {
	return storage.Errorf(storage.CodeNotFound, "database %q: no such D1 database in the wrangler config (call list_d1_databases to see them)", id)
}

func (d *d1Store) database(id string) (Database, error) {
	for _, db := range d.s.bindings().D1 {
		if strings.EqualFold(db.ID, id) {
			return db, nil
		}
	}
	return Database{}, errNoDatabase(id)
}

func (d *d1Store) file(id string) string { return d.s.objectFile(areaD1, id) }

// describe reports a bound database with its size and table count, read
// from its file when there is one.
func (d *d1Store) describe(ctx context.Context, db Database) (storage.Database, error) {
	out := storage.Database{ID: db.ID, Name: db.Name}
	path := d.file(db.ID)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return storage.Database{}, fsErr(ctx, "reading "+path, err)
	}
	out.CreatedAt = fi.ModTime().UTC()
	c, _, err := d.s.openRead(ctx, path)
	if err != nil {
		return storage.Database{}, err
	}
	defer c.Close()
	// The size as D1 reports it: pages, wherever they are (workerd leaves
	// recent ones in the WAL).
	err = c.QueryRowContext(ctx, "SELECT (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()), (SELECT count(*) FROM sqlite_master WHERE "+storage.D1UserTables+")").
		Scan(&out.FileSize, &out.NumTables)
	if err != nil {
		return storage.Database{}, dbErr(ctx, "reading", path, false, err)
	}
	return out, nil
}

func (d *d1Store) ListDatabases(ctx context.Context, opts storage.ListOptions) (storage.DatabasePage, error) {
	c, err := decodeCursor(opts.Cursor, "d1")
	if err != nil {
		return storage.DatabasePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultDatabaseList, storage.MaxDatabaseList)
	all := slices.Clone(d.s.bindings().D1)
	slices.SortFunc(all, func(a, b Database) int { return cmp2(a.Name, b.Name, a.ID, b.ID) })
	page := storage.DatabasePage{Databases: []storage.Database{}}
	for _, db := range all {
		if !strings.HasPrefix(db.Name, opts.Prefix) || opts.Cursor != "" && cmp2(db.Name, string(c.Key), db.ID, c.ID) <= 0 {
			continue
		}
		if len(page.Databases) == limit {
			last := page.Databases[limit-1]
			page.Cursor = cursor{Kind: "d1", Key: []byte(last.Name), ID: last.ID}.encode()
			break
		}
		info, err := d.describe(ctx, db)
		if err != nil {
			return storage.DatabasePage{}, err
		}
		page.Databases = append(page.Databases, info)
	}
	return page, nil
}

func (d *d1Store) GetDatabase(ctx context.Context, id string) (storage.Database, error) {
	db, err := d.database(id)
	if err != nil {
		return storage.Database{}, err
	}
	return d.describe(ctx, db)
}

func (d *d1Store) CreateDatabase(ctx context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	return storage.Database{}, errCreateDatabase(spec.Name)
}

func (d *d1Store) DeleteDatabase(ctx context.Context, id string) error {
	return errConfigOwned("deleting a D1 database", "remove its [[d1_databases]] block from the wrangler config")
}

// Query runs stmts in one transaction of the database's file: read-only
// (mode=ro, query_only) with opts.ReadOnly, else under the exclusive lock
// of a write (see dsn), after checkWritable. A batch that only reads, on a
// database the Worker never used, runs on an empty in-memory database.
func (d *d1Store) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	db, err := d.database(id)
	if err != nil {
		return nil, err
	}
	var batch []storage.Statement
	readOnly := true
	for i, s := range stmts {
		parts, ro, _ := storage.ClassifySQL(s.SQL)
		switch {
		case len(parts) == 0:
			return nil, storage.Errorf(storage.CodeInvalidArgument, "sql: statement %d holds only comments or whitespace", i)
		case len(parts) > 1 && len(s.Params) > 0:
			return nil, storage.Errorf(storage.CodeInvalidArgument,
				"sql: holds %d statements, but params bind to one: send one statement with params", len(parts))
		}
		readOnly = readOnly && ro
		for _, p := range parts {
			batch = append(batch, storage.Statement{SQL: p, Params: s.Params})
		}
	}
	if len(batch) > storage.MaxD1BatchStmts {
		return nil, storage.Errorf(storage.CodeTooLarge, "sql: %d statements is over the limit of %d per batch", len(batch), storage.MaxD1BatchStmts)
	}
	qctx, cancel := context.WithTimeout(ctx, storage.D1QueryTimeout)
	defer cancel()

	path := d.file(db.ID)
	var c *conn
	switch _, statErr := os.Stat(path); {
	case opts.ReadOnly || readOnly:
		if errors.Is(statErr, fs.ErrNotExist) {
			c, err = open(qctx, ":memory:", false)
		} else {
			c, _, err = d.s.openRead(qctx, path)
		}
	default:
		c, err = d.s.openWrite(qctx, path, "")
	}
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.ExecContext(qctx, "PRAGMA foreign_keys = ON"); err != nil { // as D1 (and workerd's SQLite) enforce them
		return nil, dbErr(ctx, "opening", path, false, err)
	}
	auth := &d1Authorizer{readOnly: opts.ReadOnly}
	err = c.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the SQLite driver offers no authorizer")
		}
		return r.RegisterAuthorizer(auth.decide)
	})
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "wrangler state: D1: %w", err)
	}
	tx, err := c.BeginTx(qctx, nil)
	if err != nil {
		return nil, d1Err(ctx, qctx, c, auth, -1, err)
	}
	defer tx.Rollback()
	out := make([]storage.QueryResult, 0, len(batch))
	for i, s := range batch {
		auth.set(true)
		res, err := runStatement(qctx, tx, s, opts.MaxRows)
		auth.set(false)
		if err != nil {
			if len(batch) == 1 {
				i = -1
			}
			return nil, d1Err(ctx, qctx, c, auth, i, err)
		}
		out = append(out, res)
	}
	if err := tx.Commit(); err != nil {
		return nil, d1Err(ctx, qctx, c, auth, -1, err)
	}
	return out, nil
}

func runStatement(ctx context.Context, tx *sql.Tx, s storage.Statement, maxRows int) (storage.QueryResult, error) {
	var before int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		return storage.QueryResult{}, err
	}
	args := make([]any, len(s.Params))
	for i, p := range s.Params {
		switch v := p.(type) {
		case bool: // D1 binds booleans as 1 and 0
			args[i] = int64(0)
			if v {
				args[i] = int64(1)
			}
		case int:
			args[i] = int64(v)
		default:
			args[i] = v
		}
	}
	start := time.Now()
	rows, err := tx.QueryContext(ctx, s.SQL, args...)
	if err != nil {
		return storage.QueryResult{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return storage.QueryResult{}, err
	}
	res := storage.QueryResult{Columns: cols, Rows: [][]any{}}
	if res.Columns == nil {
		res.Columns = []string{}
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return storage.QueryResult{}, err
		}
		res.RowCount++
		if maxRows > 0 && len(res.Rows) >= maxRows {
			continue
		}
		for i, v := range vals {
			if t, ok := v.(time.Time); ok { // the driver parses DATETIME text; D1 returns the text
				vals[i] = t.UTC().Format("2006-01-02 15:04:05.999999999")
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return storage.QueryResult{}, err
	}
	rows.Close()
	res.Meta.Duration = time.Since(start)
	var after int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes(), last_insert_rowid()").Scan(&after, &res.Meta.LastRowID); err != nil {
		return storage.QueryResult{}, err
	}
	res.Meta.Changes = after - before
	res.Meta.RowsWritten = res.Meta.Changes
	res.Meta.RowsRead = int64(res.RowCount)
	return res, nil
}

// d1Err gives an error of a batch its code. stmt is the failing
// statement's index, or -1.
func d1Err(ctx, qctx context.Context, c *conn, auth *d1Authorizer, stmt int, err error) error {
	where := "sql"
	if stmt >= 0 {
		where = fmt.Sprintf("sql: statement %d", stmt)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wrangler state: D1 query: %w", ctx.Err())
	}
	if qctx.Err() != nil {
		return storage.Errorf(storage.CodeUnavailable,
			"%s: the batch ran past D1's %s time limit and was interrupted; nothing was changed (narrow it with WHERE or LIMIT)", where, storage.D1QueryTimeout)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_AUTH:
			what, always := auth.refused()
			if always {
				return storage.Errorf(storage.CodeInvalidArgument, "%s: %s is not allowed on D1; nothing was changed", where, what)
			}
			return storage.Errorf(storage.CodeReadOnly,
				"%s: the server runs with --read-only, and this statement could write (%s); nothing was changed", where, what)
		case sqlite3.SQLITE_READONLY:
			if !c.write {
				return storage.Errorf(storage.CodeReadOnly, "%s: this statement writes, and the batch was run read-only; nothing was changed", where)
			}
			return dbErr(ctx, "D1 query on", c.path, true, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM,
			sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return dbErr(ctx, "D1 query on", c.path, c.write, err)
		case sqlite3.SQLITE_INTERRUPT:
			return storage.Errorf(storage.CodeUnavailable, "%s: interrupted; nothing was changed", where)
		}
		msg := se.Error()
		if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
			msg = msg[:i] // the driver's code suffix
		}
		return storage.Errorf(storage.CodeInvalidArgument, "%s: %s; nothing was changed", where, msg)
	}
	return storage.Errorf(storage.CodeInvalidArgument, "%s: %v; nothing was changed", where, err)
}

// d1Authorizer refuses, while SQLite compiles the user's statements, what
// D1 never allows (ATTACH, transaction statements, PRAGMAs that change how
// the file is stored, such as journal_mode: the file is workerd's), and
// under --read-only anything that could write.
type d1Authorizer struct {
	readOnly bool

	mu     sync.Mutex
	active bool
	what   string
	always bool
}

func (a *d1Authorizer) set(on bool) {
	a.mu.Lock()
	a.active = on
	if on {
		a.what, a.always = "", false
	}
	a.mu.Unlock()
}

func (a *d1Authorizer) refused() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.what == "" {
		return "a statement SQLite's authorizer refused", false
	}
	return a.what, a.always
}

func (a *d1Authorizer) deny(what string, always bool) sqlite.AuthorizerReturnCode {
	if a.what == "" {
		a.what, a.always = what, always
	}
	return sqlite.AuthorizerDeny
}

// storagePragmas change how the file is stored or locked; with a value
// they are refused in any mode.
var storagePragmas = map[string]bool{
	"journal_mode": true, "locking_mode": true, "writable_schema": true, "query_only": true, "mmap_size": true,
	"page_size": true, "auto_vacuum": true, "temp_store_directory": true, "data_store_directory": true, "trusted_schema": true,
}

// reportingPragmas only report, with or without an argument naming what
// to report on: --read-only allows them.
var reportingPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "foreign_key_check": true, "quick_check": true,
	"integrity_check": true, "function_list": true, "collation_list": true, "pragma_list": true,
	"module_list": true, "compile_options": true, "database_list": true,
}

// reportingSettings report without a value and change a setting with one.
var reportingSettings = map[string]bool{
	"user_version": true, "schema_version": true, "application_id": true, "page_count": true,
	"freelist_count": true, "foreign_keys": true, "data_version": true, "encoding": true,
}

func (a *d1Authorizer) decide(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.active {
		return sqlite.AuthorizerOK
	}
	switch action {
	case sqlite.AuthAttach:
		return a.deny("ATTACH", true)
	case sqlite.AuthDetach:
		return a.deny("DETACH", true)
	case sqlite.AuthTransaction:
		return a.deny("a transaction statement ("+arg1+"; a batch already runs in one transaction)", true)
	case sqlite.AuthSavepoint:
		return a.deny("SAVEPOINT", true)
	case sqlite.AuthFunction:
		if strings.EqualFold(arg2, "load_extension") {
			return a.deny("load_extension", true)
		}
		return sqlite.AuthorizerOK
	case sqlite.AuthPragma:
		name := strings.ToLower(arg1)
		if storagePragmas[name] && arg2 != "" {
			return a.deny("PRAGMA "+name+" with a value", true)
		}
		if !a.readOnly || reportingPragmas[name] || (reportingSettings[name] || storagePragmas[name]) && arg2 == "" {
			return sqlite.AuthorizerOK
		}
		return a.deny("PRAGMA "+name, false)
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	}
	if a.readOnly {
		return a.deny("a statement that writes", false)
	}
	return sqlite.AuthorizerOK
}
