package miniflare

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

const (
	// readBusy is how long a read waits on a lock: in WAL mode readers are
	// not blocked by a writer, so this only covers workerd recovering or
	// checkpointing a WAL.
	readBusy = time.Second
	// writeBusy is how long a write waits for its exclusive lock. A file
	// held longer is in use by another process: dbErr says so.
	writeBusy = 2 * time.Second
)

// table is what this package needs of one of Miniflare's tables.
type table struct {
	name string
	cols []string
}

// dsn is the data source of the Durable Object file at path. A read opens
// it read-only: it never takes a write lock, never checkpoints, and so
// never stands in the way of a running Worker. A write opens it in
// EXCLUSIVE locking mode: its first read takes an exclusive lock on the
// file, which fails (SQLITE_BUSY) while any other process, workerd above
// all, has it open, and keeps workerd out until the write's connection
// closes. Neither changes the file's journal mode (WAL, workerd's choice):
// the locking mode belongs to the connection, not to the file.
func dsn(path string, write bool) string {
	if path == ":memory:" { // the empty database a read of an unused D1 database sees
		return "file::memory:?_pragma=query_only(1)"
	}
	q := url.Values{}
	if write {
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", writeBusy.Milliseconds()))
		q.Add("_pragma", "locking_mode(EXCLUSIVE)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("mode", "ro")
		q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", readBusy.Milliseconds()))
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path
	}
	return u.String()
}

// conn is one connection to a Durable Object file, for one call.
type conn struct {
	path  string
	write bool // opened for a write, in EXCLUSIVE locking mode
	db    *sql.DB
	*sql.Conn
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if cerr := c.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// errNoFile is openRead's answer for a file that does not exist: the
// Durable Object was never used, so it holds nothing.
var errNoFile = errors.New("no such file")

// openRead opens the file at path read-only and checks that it holds
// Miniflare's tables (or none yet). It fails with errNoFile when the file
// does not exist, and reports empty when it holds no table.
func (s *Store) openRead(ctx context.Context, path string, want ...table) (c *conn, empty bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, true, errNoFile
	}
	c, err = open(ctx, path, false)
	if err != nil {
		return nil, false, err
	}
	if empty, err = checkSchema(ctx, c, want); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, empty, nil
}

// openWrite opens (or creates) the file at path for a write, after
// checkWritable, and makes sure it holds Miniflare's schema: create
// creates the tables as Miniflare does (CREATE … IF NOT EXISTS, the same
// statements), for a namespace or bucket the Worker never used.
func (s *Store) openWrite(ctx context.Context, path string, create string, want ...table) (*conn, error) {
	if err := s.checkWritable(); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(path)
	isNew := errors.Is(statErr, fs.ErrNotExist)
	if isNew {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, fsErr(ctx, "creating "+filepath.Dir(path), err)
		}
	}
	c, err := open(ctx, path, true)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*conn, error) {
		c.Close()
		return nil, err
	}
	if isNew {
		// A file this write creates takes the journal mode workerd gives
		// its own, so that workerd finds what it expects.
		if _, err := c.ExecContext(ctx, "PRAGMA journal_mode=WAL"); err != nil {
			return fail(dbErr(ctx, "setting up", path, true, err))
		}
	}
	empty, err := checkSchema(ctx, c, want)
	if err != nil {
		return fail(err)
	}
	if empty && create != "" {
		if _, err := c.ExecContext(ctx, create); err != nil {
			return fail(dbErr(ctx, "creating Miniflare's tables in", path, true, err))
		}
	}
	return c, nil
}

func open(ctx context.Context, path string, write bool) (*conn, error) {
	db, err := sql.Open("sqlite", dsn(path, write))
	if err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "wrangler state: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	c, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, dbErr(ctx, "opening", path, write, err)
	}
	return &conn{path: path, write: write, db: db, Conn: c}, nil
}

// checkSchema reports whether the database holds no table at all (a
// Durable Object never used), and fails naming the file when it holds
// tables but not Miniflare's: a file this package does not understand is
// never read as empty, and never written.
func checkSchema(ctx context.Context, c *conn, want []table) (empty bool, err error) {
	if len(want) == 0 {
		return false, nil
	}
	var n int
	// The first read of a write connection is where its exclusive lock is
	// taken: a BUSY here is workerd (or another program) holding the file.
	if err := c.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table'").Scan(&n); err != nil {
		return false, dbErr(ctx, "reading the schema of", c.path, c.write, err)
	}
	if n == 0 {
		return true, nil
	}
	for _, t := range want {
		rows, err := c.QueryContext(ctx, "SELECT name FROM pragma_table_info(?)", t.name)
		if err != nil {
			return false, dbErr(ctx, "reading the schema of", c.path, false, err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				rows.Close()
				return false, dbErr(ctx, "reading the schema of", c.path, false, err)
			}
			have[name] = true
		}
		rows.Close()
		if len(have) == 0 {
			return false, errSchema(c.path, fmt.Sprintf("it has no table %s", t.name))
		}
		for _, col := range t.cols {
			if !have[col] {
				return false, errSchema(c.path, fmt.Sprintf("its table %s has no column %s", t.name, col))
			}
		}
	}
	return false, nil
}

func errSchema(path, why string) error {
	return storage.Errorf(storage.CodeInternal,
		"wrangler state: %s is not a Miniflare storage file this server understands (%s): it was written by another version of Miniflare or by another program; nothing was read or written there. Check --persist-to, or open the project with the wrangler version it uses (this server reads the layout of wrangler 4)", path, why)
}

// dbErr gives a database error of operation op on the file at path its
// storage code. A lock that did not come within the busy timeout is, for
// a write, another process holding the file: workerd, most likely.
func dbErr(ctx context.Context, op, path string, write bool, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wrangler state: %s %s: %w", op, path, ctx.Err())
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			if write {
				return storage.Errorf(storage.CodeConflict,
					"wrangler state: %s %s: another process has the file open (wrangler dev, or a program reading its state) and held it for over %s: stop wrangler dev (or pass --wrangler-url so its Local Explorer is used) and try again: %w", op, path, writeBusy, err)
			}
			return storage.Errorf(storage.CodeUnavailable, "wrangler state: %s %s: the file stayed locked for over %s: try again: %w", op, path, readBusy, err)
		case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
			return storage.Errorf(storage.CodeInternal, "wrangler state: %s %s: the file is not a SQLite database, or is damaged: check --persist-to: %w", op, path, err)
		case sqlite3.SQLITE_FULL:
			return storage.Errorf(storage.CodeUnavailable, "wrangler state: %s %s: the disk is full: %w", op, path, err)
		case sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM:
			return storage.Errorf(storage.CodeUnavailable, "wrangler state: %s %s: %w", op, path, err)
		}
	}
	return storage.Errorf(storage.CodeInternal, "wrangler state: %s %s: %w", op, path, err)
}

// fsErr is dbErr for the blob files.
func fsErr(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wrangler state: %s: %w", op, ctx.Err())
	}
	var pe *fs.PathError
	if errors.As(err, &pe) && (errors.Is(err, fs.ErrPermission)) {
		return storage.Errorf(storage.CodeUnavailable, "wrangler state: %s: %w", op, err)
	}
	return storage.Errorf(storage.CodeInternal, "wrangler state: %s: %w", op, err)
}

// isStorageErr reports whether err already carries a storage code.
func isStorageErr(err error) bool {
	var e *storage.Error
	return errors.As(err, &e)
}

// cursor is where a listing stopped, travelling to the client and back as
// storage.EncodeCursor makes it.
type cursor struct {
	Kind string `json:"t"`
	// Key is the last key (or name) listed; bytes, as JSON would replace
	// invalid UTF-8 in a string and the next page would resume elsewhere.
	Key []byte `json:"k"`
	// ID completes a namespace's position: they are ordered by title, then id.
	ID string `json:"id,omitempty"`
	// Incl: listing resumes at Key itself (past a rolled-up prefix).
	Incl bool `json:"i,omitempty"`
}

func (c cursor) encode() string { return storage.EncodeCursor(c) }

// decodeCursor reads s, issued by a listing of kind; "" is the start.
func decodeCursor(s, kind string) (cursor, error) {
	return storage.DecodeCursor(s, func(c cursor) bool { return c.Kind == kind })
}
