package local

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// d1Store is D1 on the local store: a catalogue in store.db and one SQLite
// file per database under d1/.
//
// Read-only safety is decided by SQLite, not by reading the SQL: under
// QueryOptions.ReadOnly the file is opened with mode=ro and query_only, and
// an authorizer installed on the connection refuses, while each statement
// is compiled, every action that writes (INSERT, UPDATE, DELETE, CREATE,
// DROP, ALTER, REINDEX, ANALYZE), ATTACH and DETACH, and every PRAGMA but a
// list of ones that only report. Each statement of a multi-statement string
// is compiled, and so authorized, on its own, so `SELECT 1; DROP TABLE t`
// and a CTE ending in DELETE are refused. Whatever the mode, a batch runs in
// one transaction, so statements that control transactions, ATTACH and
// DETACH are refused as D1 refuses them.
type d1Store struct{ b *Backend }

var _ storage.D1 = (*d1Store)(nil)

// WithD1Timeout sets how long one D1 batch may run (default
// storage.D1QueryTimeout). Tests shorten it.
func WithD1Timeout(d time.Duration) Option {
	return func(b *Backend) {
		if d > 0 {
			b.d1Timeout = d
		}
	}
}

func errNoDatabase(ref string) error {
	return storage.Errorf(storage.CodeNotFound, "database %q: no such D1 database (call list_d1_databases to see them)", ref)
}

// newUUID returns a random (version 4) UUID, the form of a D1 database id.
func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func (s *store) d1Path(id string) string {
	return filepath.Join(s.dir, d1Dir, strings.ToLower(id)+".sqlite")
}

const d1Columns = "id, name, created_ms"

func scanDatabase(sc interface{ Scan(...any) error }, st *store) (storage.Database, error) {
	var db storage.Database
	var ms int64
	if err := sc.Scan(&db.ID, &db.Name, &ms); err != nil {
		return db, err
	}
	db.CreatedAt = time.UnixMilli(ms).UTC()
	if fi, err := os.Stat(st.d1Path(db.ID)); err == nil {
		db.FileSize = fi.Size()
	}
	return db, nil
}

func (d *d1Store) ListDatabases(ctx context.Context, opts storage.ListOptions) (storage.DatabasePage, error) {
	st, err := d.b.open(ctx)
	if err != nil {
		return storage.DatabasePage{}, err
	}
	c, err := decodeCursor(opts.Cursor, kindDatabases)
	if err != nil {
		return storage.DatabasePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultDatabaseList, storage.MaxDatabaseList)
	var w where
	prefix(&w, "name", opts.Prefix)
	if opts.Cursor != "" {
		w.add("name > ?", string(c.Key))
	}
	rows, err := st.q().QueryContext(ctx,
		"SELECT "+d1Columns+" FROM d1_databases"+w.sql()+" ORDER BY name LIMIT ?", append(w.args, limit+1)...)
	if err != nil {
		return storage.DatabasePage{}, dbErr(ctx, "listing databases", err)
	}
	defer rows.Close()
	page := storage.DatabasePage{Databases: []storage.Database{}}
	for rows.Next() {
		db, err := scanDatabase(rows, st)
		if err != nil {
			return storage.DatabasePage{}, dbErr(ctx, "listing databases", err)
		}
		page.Databases = append(page.Databases, db)
	}
	if err := rows.Err(); err != nil {
		return storage.DatabasePage{}, dbErr(ctx, "listing databases", err)
	}
	if len(page.Databases) > limit {
		page.Databases = page.Databases[:limit]
		page.Cursor = cursor{Kind: kindDatabases, Key: []byte(page.Databases[limit-1].Name)}.encode()
	}
	return page, nil
}

func (d *d1Store) GetDatabase(ctx context.Context, id string) (storage.Database, error) {
	st, err := d.b.open(ctx)
	if err != nil {
		return storage.Database{}, err
	}
	return getDatabase(ctx, st, id)
}

func getDatabase(ctx context.Context, st *store, id string) (storage.Database, error) {
	db, err := scanDatabase(st.q().QueryRowContext(ctx,
		"SELECT "+d1Columns+" FROM d1_databases WHERE id = ?", strings.ToLower(id)), st)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Database{}, errNoDatabase(id)
	}
	if err != nil {
		return storage.Database{}, dbErr(ctx, "reading database", err)
	}
	return db, nil
}

func (d *d1Store) CreateDatabase(ctx context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	st, err := d.b.open(ctx)
	if err != nil {
		return storage.Database{}, err
	}
	db := storage.Database{ID: newUUID(), Name: spec.Name, CreatedAt: st.now().UTC().Truncate(time.Millisecond)}
	// The file first: a row never names a file that is missing. An empty
	// file is an empty SQLite database.
	path := st.d1Path(db.ID)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return storage.Database{}, fsErr(ctx, "creating database file", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return storage.Database{}, fsErr(ctx, "creating database file", err)
	}
	// And its entry durable before the row commits: after a crash, a
	// committed row whose file's creation was still in the page cache
	// would name a missing file.
	if err := st.syncDir(filepath.Dir(path)); err != nil {
		os.Remove(path)
		return storage.Database{}, fsErr(ctx, "creating database file", err)
	}
	err = st.update(ctx, "creating database", func(ctx context.Context, tx queries) error {
		var other string
		err := tx.QueryRowContext(ctx, "SELECT id FROM d1_databases WHERE name = ?", spec.Name).Scan(&other)
		switch {
		case err == nil:
			return storage.Errorf(storage.CodeAlreadyExists, "a D1 database named %q already exists (id %s)", spec.Name, other)
		case !errors.Is(err, sql.ErrNoRows):
			return dbErr(ctx, "creating database", err)
		}
		_, err = tx.ExecContext(ctx,
			"INSERT INTO d1_databases (id, name, created_ms, primary_location_hint, jurisdiction) VALUES (?, ?, ?, ?, ?)",
			db.ID, db.Name, db.CreatedAt.UnixMilli(), spec.PrimaryLocationHint, spec.Jurisdiction)
		return dbErr(ctx, "creating database", err)
	})
	if err != nil {
		if !errors.Is(err, errCommit) {
			os.Remove(path)
		}
		return storage.Database{}, err
	}
	return db, nil
}

func (d *d1Store) DeleteDatabase(ctx context.Context, id string) error {
	st, err := d.b.open(ctx)
	if err != nil {
		return err
	}
	id = strings.ToLower(id)
	err = st.update(ctx, "deleting database", func(ctx context.Context, tx queries) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM d1_databases WHERE id = ?", id)
		if err != nil {
			return dbErr(ctx, "deleting database", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errNoDatabase(id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	path := st.d1Path(id)
	for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !os.IsNotExist(err) {
			st.log.Warn("local backend: removing a deleted D1 database's file failed", "path", path+suffix, "err", err)
		}
	}
	return nil
}

// d1DSN is the data source of one D1 database file, which must exist:
// mode=rw (or ro) never creates it, so a database deleted since its lookup
// is not silently recreated empty. CreateDatabase alone creates the file.
func d1DSN(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)") // D1 enforces foreign keys
	if readOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("mode", "rw")
		q.Set("_txlock", "immediate")
	}
	return fileURI(filepath.ToSlash(path), q)
}

func (d *d1Store) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	st, err := d.b.open(ctx)
	if err != nil {
		return nil, err
	}
	dbInfo, err := getDatabase(ctx, st, id)
	if err != nil {
		return nil, err
	}
	// One statement per entry: a string holding several is split, so that
	// each has its own result, as D1 gives.
	var batch []storage.Statement
	for i, s := range stmts {
		parts, _, _ := storage.ClassifySQL(s.SQL)
		switch {
		case len(parts) == 0:
			return nil, storage.Errorf(storage.CodeInvalidArgument, "sql: statement %d holds only comments or whitespace", i)
		case len(parts) > 1 && len(s.Params) > 0:
			return nil, storage.Errorf(storage.CodeInvalidArgument,
				"sql: holds %d statements, but params bind to one: send one statement with params", len(parts))
		}
		for _, p := range parts {
			batch = append(batch, storage.Statement{SQL: p, Params: s.Params})
		}
	}
	if len(batch) > storage.MaxD1BatchStmts {
		return nil, storage.Errorf(storage.CodeTooLarge, "sql: %d statements is over the limit of %d per batch", len(batch), storage.MaxD1BatchStmts)
	}

	qctx, cancel := context.WithTimeout(ctx, d.b.d1Timeout)
	defer cancel()
	path := st.d1Path(dbInfo.ID)
	if d.b.d1Opening != nil {
		d.b.d1Opening(path)
	}
	db, err := sql.Open("sqlite", d1DSN(path, opts.ReadOnly))
	if err != nil {
		return nil, dbErr(ctx, "opening database", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(qctx)
	if err != nil {
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return nil, errNoDatabase(id) // deleted since the lookup
		}
		return nil, dbErr(ctx, "opening database", err)
	}
	defer conn.Close()
	auth := &d1Authorizer{readOnly: opts.ReadOnly}
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the SQLite driver offers no authorizer")
		}
		return r.RegisterAuthorizer(auth.decide)
	})
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "local: D1: %w", err)
	}
	tx, err := conn.BeginTx(qctx, &sql.TxOptions{ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, d1Err(ctx, qctx, d.b.d1Timeout, auth, opts.ReadOnly, -1, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	out := make([]storage.QueryResult, 0, len(batch))
	for i, s := range batch {
		auth.user(true)
		res, err := runStatement(qctx, tx, s, opts.MaxRows)
		auth.user(false)
		if err != nil {
			if len(batch) == 1 {
				i = -1
			}
			return nil, d1Err(ctx, qctx, d.b.d1Timeout, auth, opts.ReadOnly, i, err)
		}
		out = append(out, res)
	}
	if err := tx.Commit(); err != nil {
		return nil, d1Err(ctx, qctx, d.b.d1Timeout, auth, opts.ReadOnly, -1, err)
	}
	return out, nil
}

func bindArgs(params []any) []any {
	args := make([]any, len(params))
	for i, p := range params {
		switch v := p.(type) {
		case bool:
			if v {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		case int:
			args[i] = int64(v)
		default:
			args[i] = v
		}
	}
	return args
}

func runStatement(ctx context.Context, tx *sql.Tx, s storage.Statement, maxRows int) (storage.QueryResult, error) {
	var before int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		return storage.QueryResult{}, err
	}
	start := time.Now()
	rows, err := tx.QueryContext(ctx, s.SQL, bindArgs(s.Params)...)
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
			continue // counted, not kept
		}
		for i, v := range vals {
			if t, ok := v.(time.Time); ok {
				// The driver parses TEXT of DATE/DATETIME/TIMESTAMP
				// columns; D1 returns the text.
				vals[i] = t.UTC().Format("2006-01-02 15:04:05.999999999")
			}
		}
		res.Rows = append(res.Rows, vals)
	}
	if err := rows.Err(); err != nil {
		return storage.QueryResult{}, err
	}
	if err := rows.Close(); err != nil {
		return storage.QueryResult{}, err
	}
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

// d1Err gives an error of a D1 batch its code: a refusal by the authorizer
// is read_only (or invalid_argument for what D1 never allows), a SQL error
// invalid_argument with SQLite's message, a batch past its time limit
// unavailable. stmt is the index of the failing statement, or -1.
func d1Err(ctx, qctx context.Context, limit time.Duration, auth *d1Authorizer, readOnly bool, stmt int, err error) error {
	where := "sql"
	if stmt >= 0 {
		where = fmt.Sprintf("sql: statement %d", stmt)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("local: D1 query: %w", ctx.Err())
	}
	if qctx.Err() != nil {
		return storage.Errorf(storage.CodeUnavailable,
			"%s: the batch ran past D1's %s time limit and was interrupted; nothing was changed (narrow it with WHERE or LIMIT)", where, limit)
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
				"%s: the server runs with --read-only, and this statement could write (%s); only statements that read are run; nothing was changed", where, what)
		case sqlite3.SQLITE_READONLY:
			if readOnly {
				return storage.Errorf(storage.CodeReadOnly,
					"%s: the server runs with --read-only, and this statement writes; nothing was changed", where)
			}
			return dbErr(ctx, "D1 query", err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
			return dbErr(ctx, "D1 query", err)
		case sqlite3.SQLITE_INTERRUPT:
			return storage.Errorf(storage.CodeUnavailable, "%s: interrupted; nothing was changed", where)
		}
		return storage.Errorf(storage.CodeInvalidArgument, "%s: %s; nothing was changed", where, sqliteMessage(se))
	}
	return storage.Errorf(storage.CodeInvalidArgument, "%s: %v; nothing was changed", where, err)
}

// sqliteMessage is SQLite's message without the driver's code suffix.
func sqliteMessage(se *sqlite.Error) string {
	msg := se.Error()
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	return msg
}

// d1Authorizer decides, while SQLite compiles each statement of a batch,
// whether it may run. It only judges the user's statements (user(true));
// the transaction the batch runs in is the backend's own.
type d1Authorizer struct {
	readOnly bool

	mu     sync.Mutex
	active bool
	what   string // the last refusal, for the error
	always bool   // refused in any mode
}

func (a *d1Authorizer) user(on bool) {
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

// deny refuses an action, remembering the first refusal of the statement
// for the error.
func (a *d1Authorizer) deny(what string, always bool) sqlite.AuthorizerReturnCode {
	if a.what == "" {
		a.what, a.always = what, always
	}
	return sqlite.AuthorizerDeny
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
		// The lists are storage's, which ClassifySQL reads too.
		name := strings.ToLower(arg1)
		if storage.PragmaFixed(name) && arg2 != "" {
			return a.deny("PRAGMA "+name+" with a value", true)
		}
		if !a.readOnly || storage.PragmaReports(name) || storage.PragmaReadable(name) && arg2 == "" {
			return sqlite.AuthorizerOK
		}
		return a.deny("PRAGMA "+name, false)
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	}
	if a.readOnly {
		return a.deny(d1ActionName(action, arg1), false)
	}
	return sqlite.AuthorizerOK
}

func d1ActionName(action sqlite.AuthorizerActionCode, arg1 string) string {
	if strings.HasPrefix(arg1, "sqlite_") {
		return "a schema change"
	}
	switch action {
	case sqlite.AuthInsert:
		return "INSERT into " + arg1
	case sqlite.AuthUpdate:
		return "UPDATE of " + arg1
	case sqlite.AuthDelete:
		return "DELETE from " + arg1
	case sqlite.AuthAlterTable:
		return "ALTER TABLE"
	case sqlite.AuthReindex:
		return "REINDEX"
	case sqlite.AuthAnalyze:
		return "ANALYZE"
	}
	return "a schema change"
}
