// Package d1sql runs a D1 batch on one SQLite connection, as D1 runs it:
// one statement per entry, all in one transaction, rows capped and counted,
// meta as D1 reports it, and an authorizer that refuses, while SQLite
// compiles each statement, what D1 never allows and, under --read-only,
// whatever could write. The embedded backend (internal/local) and the
// wrangler files backend (internal/wrangler/miniflare) both run their
// batches here; each only opens the file and maps the errors of the file
// itself (see Batch.FileErr).
//
// Read-only safety is decided by SQLite, not by reading the SQL: each
// statement of a multi-statement string is compiled, and so authorized, on
// its own, so `SELECT 1; DROP TABLE t` and a CTE ending in DELETE are
// refused. The PRAGMA rules are storage's lists (storage.PragmaFixed,
// PragmaReports, PragmaReadable), which ClassifySQL reads too.
package d1sql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Split makes stmts a batch of one statement per entry: a string holding
// several is split, so that each has its own result, as D1 gives. reads
// reports whether every statement reads only, as ClassifySQL judges it.
func Split(stmts []storage.Statement) (batch []storage.Statement, reads bool, err error) {
	reads = true
	for i, s := range stmts {
		parts, ro, _ := storage.ClassifySQL(s.SQL)
		switch {
		case len(parts) == 0:
			return nil, false, storage.Errorf(storage.CodeInvalidArgument, "sql: statement %d holds only comments or whitespace", i)
		case len(parts) > 1 && len(s.Params) > 0:
			return nil, false, storage.Errorf(storage.CodeInvalidArgument,
				"sql: holds %d statements, but params bind to one: send one statement with params", len(parts))
		}
		reads = reads && ro
		for _, p := range parts {
			batch = append(batch, storage.Statement{SQL: p, Params: s.Params})
		}
	}
	if len(batch) > storage.MaxD1BatchStmts {
		return nil, false, storage.Errorf(storage.CodeTooLarge, "sql: %d statements is over the limit of %d per batch", len(batch), storage.MaxD1BatchStmts)
	}
	return batch, reads, nil
}

// Batch is a split batch and how to run it.
type Batch struct {
	Stmts []storage.Statement
	// ReadOnly is the server's --read-only: the authorizer refuses
	// whatever could write.
	ReadOnly bool
	// ConnReadOnly says the connection was opened read-only (mode=ro):
	// with ReadOnly, or because the backend judged the batch to read only.
	ConnReadOnly bool
	// MaxRows caps the rows kept of each result (all are counted); 0 keeps
	// all.
	MaxRows int
	// Limit is the time limit the caller's qctx carries, for its error.
	Limit time.Duration
	// Prefix starts the errors that carry no storage code ("local").
	Prefix string
	// FileErr gives an error of the file or its locks (busy, full, I/O,
	// damaged, read-only file) the backend's code and wording.
	FileErr func(err error) error
}

// Run runs b on conn in one transaction under qctx, a child of ctx ending
// at b.Limit, and commits it. Whatever fails, nothing is changed.
func Run(ctx, qctx context.Context, conn *sql.Conn, b Batch) ([]storage.QueryResult, error) {
	auth := &authorizer{readOnly: b.ReadOnly}
	err := conn.Raw(func(dc any) error {
		r, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("the SQLite driver offers no authorizer")
		}
		return r.RegisterAuthorizer(auth.decide)
	})
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "%s: D1: %w", b.Prefix, err)
	}
	tx, err := conn.BeginTx(qctx, &sql.TxOptions{ReadOnly: b.ConnReadOnly})
	if err != nil {
		return nil, b.err(ctx, qctx, auth, -1, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	out := make([]storage.QueryResult, 0, len(b.Stmts))
	for i, s := range b.Stmts {
		auth.user(true)
		res, err := runStatement(qctx, tx, s, b.MaxRows)
		auth.user(false)
		if err != nil {
			if len(b.Stmts) == 1 {
				i = -1
			}
			return nil, b.err(ctx, qctx, auth, i, err)
		}
		out = append(out, res)
	}
	if err := tx.Commit(); err != nil {
		return nil, b.err(ctx, qctx, auth, -1, err)
	}
	return out, nil
}

// BindArgs are a statement's params as the driver binds them: D1 binds
// booleans as 1 and 0.
func BindArgs(params []any) []any {
	args := make([]any, len(params))
	for i, p := range params {
		switch v := p.(type) {
		case bool:
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
	return args
}

func runStatement(ctx context.Context, tx *sql.Tx, s storage.Statement, maxRows int) (storage.QueryResult, error) {
	var before int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		return storage.QueryResult{}, err
	}
	start := time.Now()
	rows, err := tx.QueryContext(ctx, s.SQL, BindArgs(s.Params)...)
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

// err gives an error of the batch its code: a refusal by the authorizer is
// read_only (or invalid_argument for what D1 never allows), a SQL error
// invalid_argument with SQLite's message, a batch past its time limit
// unavailable, an error of the file the backend's (FileErr). stmt is the
// index of the failing statement, or -1.
func (b *Batch) err(ctx, qctx context.Context, auth *authorizer, stmt int, err error) error {
	where := "sql"
	if stmt >= 0 {
		where = fmt.Sprintf("sql: statement %d", stmt)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: D1 query: %w", b.Prefix, ctx.Err())
	}
	if qctx.Err() != nil {
		return storage.Errorf(storage.CodeUnavailable,
			"%s: the batch ran past D1's %s time limit and was interrupted; nothing was changed (narrow it with WHERE or LIMIT)", where, b.Limit)
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return storage.Errorf(storage.CodeInvalidArgument, "%s: %v; nothing was changed", where, err)
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_AUTH:
		what, always := auth.refused()
		if always {
			return storage.Errorf(storage.CodeInvalidArgument, "%s: %s is not allowed on D1; nothing was changed", where, what)
		}
		return storage.Errorf(storage.CodeReadOnly,
			"%s: the server runs with --read-only, and this statement could write (%s); only statements that read are run; nothing was changed", where, what)
	case sqlite3.SQLITE_READONLY:
		switch {
		case b.ReadOnly:
			return storage.Errorf(storage.CodeReadOnly,
				"%s: the server runs with --read-only, and this statement writes; nothing was changed", where)
		case b.ConnReadOnly:
			return storage.Errorf(storage.CodeReadOnly,
				"%s: this statement writes, and the batch was run read-only, as its SQL read as only reading; nothing was changed", where)
		}
		return b.FileErr(err)
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM,
		sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return b.FileErr(err)
	case sqlite3.SQLITE_INTERRUPT:
		return storage.Errorf(storage.CodeUnavailable, "%s: interrupted; nothing was changed", where)
	}
	return storage.Errorf(storage.CodeInvalidArgument, "%s: %s; nothing was changed", where, sqliteMessage(se))
}

// sqliteMessage is SQLite's message without the driver's code suffix.
func sqliteMessage(se *sqlite.Error) string {
	msg := se.Error()
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	return msg
}

// authorizer decides, while SQLite compiles each statement of a batch,
// whether it may run. It only judges the user's statements (user(true));
// the transaction the batch runs in is the backend's own.
type authorizer struct {
	readOnly bool

	mu     sync.Mutex
	active bool
	what   string // the first refusal of the statement, for the error
	always bool   // refused in any mode
}

func (a *authorizer) user(on bool) {
	a.mu.Lock()
	a.active = on
	if on {
		a.what, a.always = "", false
	}
	a.mu.Unlock()
}

func (a *authorizer) refused() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.what == "" {
		return "a statement SQLite's authorizer refused", false
	}
	return a.what, a.always
}

// deny refuses an action, remembering the first refusal of the statement
// for the error.
func (a *authorizer) deny(what string, always bool) sqlite.AuthorizerReturnCode {
	if a.what == "" {
		a.what, a.always = what, always
	}
	return sqlite.AuthorizerDeny
}

func (a *authorizer) decide(action sqlite.AuthorizerActionCode, arg1, arg2, _, _ string) sqlite.AuthorizerReturnCode {
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
		return a.pragma(strings.ToLower(arg1), arg2)
	case sqlite.AuthSelect, sqlite.AuthRead, sqlite.AuthRecursive:
		return sqlite.AuthorizerOK
	}
	if a.readOnly {
		return a.deny(actionName(action, arg1), false)
	}
	return sqlite.AuthorizerOK
}

// pragma applies storage's lists to PRAGMA name, with value ("" for none).
func (a *authorizer) pragma(name, value string) sqlite.AuthorizerReturnCode {
	if storage.PragmaFixed(name) && value != "" {
		return a.deny("PRAGMA "+name+" with a value", true)
	}
	if !a.readOnly || storage.PragmaReports(name) || storage.PragmaReadable(name) && value == "" {
		return sqlite.AuthorizerOK
	}
	return a.deny("PRAGMA "+name, false)
}

func actionName(action sqlite.AuthorizerActionCode, arg1 string) string {
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
