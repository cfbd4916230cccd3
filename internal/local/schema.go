package local

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/durable"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// migrations[i] brings the schema from version i to i+1 (PRAGMA
// user_version). Append only: a released step is never edited.
//
// Keys are BLOBs, never TEXT: a BLOB compares by memcmp, which is the byte
// order of UTF-8 that Cloudflare lists in, whatever collation a later
// connection sets, and it keeps a key with a NUL intact. STRICT makes a key
// bound as TEXT by mistake an error instead of a row that sorts apart.
var migrations = []string{
	`
CREATE TABLE kv_namespaces (
	id         TEXT    NOT NULL PRIMARY KEY,
	title      TEXT    NOT NULL UNIQUE,
	created_ms INTEGER NOT NULL
) STRICT;

-- value is the last column: SQLite walks a row's overflow pages to reach the
-- columns stored after a large one.
CREATE TABLE kv_values (
	namespace_id TEXT    NOT NULL REFERENCES kv_namespaces(id) ON DELETE CASCADE,
	key          BLOB    NOT NULL,
	expiration   INTEGER NOT NULL DEFAULT 0, -- Unix seconds; 0 = never
	metadata     TEXT,                       -- JSON; NULL = none
	value        BLOB    NOT NULL,
	PRIMARY KEY (namespace_id, key)
) STRICT;

-- Not a partial index (WHERE expiration > 0): a query with expiration > ?
-- would then be recompiled on every run, as SQLite re-checks whether each
-- bound value implies the index's condition.
CREATE INDEX kv_values_expiration ON kv_values(expiration);

CREATE TABLE r2_buckets (
	name          TEXT    NOT NULL PRIMARY KEY,
	created_ms    INTEGER NOT NULL,
	location      TEXT    NOT NULL,
	storage_class TEXT    NOT NULL,
	jurisdiction  TEXT    NOT NULL
) STRICT;

CREATE TABLE r2_objects (
	bucket              TEXT    NOT NULL REFERENCES r2_buckets(name),
	key                 BLOB    NOT NULL,
	size                INTEGER NOT NULL,
	etag                TEXT    NOT NULL,
	uploaded_ms         INTEGER NOT NULL,
	content_type        TEXT    NOT NULL DEFAULT '',
	content_language    TEXT    NOT NULL DEFAULT '',
	content_disposition TEXT    NOT NULL DEFAULT '',
	content_encoding    TEXT    NOT NULL DEFAULT '',
	cache_control       TEXT    NOT NULL DEFAULT '',
	custom_metadata     TEXT,                      -- JSON object; NULL = none
	blob_id             TEXT    NOT NULL UNIQUE,   -- file blobs/<id[:2]>/<id>
	PRIMARY KEY (bucket, key)
) STRICT, WITHOUT ROWID;
`,
	`
-- D1 databases: the catalogue. Each database is the SQLite file
-- d1/<id>.sqlite.
CREATE TABLE d1_databases (
	id                    TEXT    NOT NULL PRIMARY KEY, -- UUID v4
	name                  TEXT    NOT NULL UNIQUE,
	created_ms            INTEGER NOT NULL,
	primary_location_hint TEXT    NOT NULL DEFAULT '',
	jurisdiction          TEXT    NOT NULL DEFAULT ''
) STRICT;
`,
	`
-- A KV value over kvInlineMax bytes lives in the file blobs/<id[:2]>/<id>,
-- like an object's bytes: blob_id names it, blob_size is its length and
-- value is empty. Both are NULL for a value stored inline in value, as
-- every value written before this step is. (ADD COLUMN puts them after
-- value, but a value with a blob is empty and an inline one is small.)
ALTER TABLE kv_values ADD COLUMN blob_id TEXT;
ALTER TABLE kv_values ADD COLUMN blob_size INTEGER;

-- For the orphan sweep, which asks whether any row names a blob. Partial:
-- only values with a blob have an entry, and "blob_id = ?" implies the
-- condition without looking at the bound value.
CREATE UNIQUE INDEX kv_values_blob_id ON kv_values(blob_id) WHERE blob_id IS NOT NULL;
`,
}

const (
	dbFile   = "store.db"
	blobsDir = "blobs"
	tmpDir   = "tmp"
	d1Dir    = "d1"

	// busyTimeout is how long a write waits for another process's write
	// transaction before it fails as unavailable.
	busyTimeout = 10 * time.Second

	maxConns = 8
)

// dsn is the modernc.org/sqlite data source for path. Every connection of
// the pool runs these pragmas when it opens, and every write transaction the
// pool begins is BEGIN IMMEDIATE. The journal mode is not among them: it is
// kept in the file, and enableWAL sets it once, before the pool is used.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	// FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on a
	// power cut, and a write the server acknowledged must survive one.
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	return fileURI(filepath.ToSlash(path), q)
}

// fileURI is the SQLite file: URI of the absolute path p, written with '/'
// (filepath.ToSlash), carrying the query q. The path is escaped, so that a
// data dir holding '?' or '#' is not read as query parameters. A Windows
// path gets the extra '/' SQLite wants before a drive letter
// (file:///C:/data/x.db); a UNC path (//server/share/...) keeps its two
// slashes after an empty authority (file:////server/share/...).
func fileURI(p string, q url.Values) string {
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // a Windows drive letter
	}
	return u.String()
}

// openStore creates what is missing under dir, opens the database, brings
// its schema up to date and starts the orphan sweep.
func openStore(ctx context.Context, dir string, now func() time.Time, log *slog.Logger) (*store, error) {
	s := &store{
		dir:   dir,
		blobs: filepath.Join(dir, blobsDir),
		tmp:   filepath.Join(dir, tmpDir),
		now:   now,
		log:   log,
		write: make(chan struct{}, 1),
		stmts: map[string]*sql.Stmt{},

		unprepared: map[string]bool{},

		syncDir: durable.SyncDir,
	}
	for _, d := range []string{s.dir, s.blobs, s.tmp, filepath.Join(dir, d1Dir)} {
		if err := mkdirDurable(d); err != nil {
			return nil, err
		}
	}
	db, err := sql.Open("sqlite", dsn(filepath.Join(dir, dbFile)))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	s.db = db
	if err := s.enableWAL(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}

	sweepCtx, cancel := context.WithCancel(context.Background())
	s.stopSweep = cancel
	s.sweepDone = make(chan struct{})
	go func() {
		defer close(s.sweepDone)
		if err := s.sweep(sweepCtx); err != nil && sweepCtx.Err() == nil {
			s.log.Warn("local backend: sweeping orphaned files failed", "data_dir", dir, "err", err)
		}
	}()
	log.Debug("local backend: opened", "data_dir", dir)
	return s, nil
}

// enableWAL puts the database in WAL mode, which the file then keeps: in
// effect once in the life of a data dir, a read of the header on every
// later open.
//
// The switch reads the header under a shared lock, then upgrades to an
// exclusive one to write it, and SQLite never runs its busy handler to
// upgrade a lock it holds (two connections doing so would wait for each
// other for ever): a second process opening a fresh data dir at the same
// moment got SQLITE_BUSY at once, whatever busy_timeout said. So the
// switch is one statement of its own, not a pragma of every new connection
// (it would fail whichever connection the pool opened first), and on
// SQLITE_BUSY it tries again: the statement has ended, its lock is
// released, and the process that won is done with the header in
// milliseconds. It waits at most busyTimeout, as any other lock would.
func (s *store) enableWAL(ctx context.Context) error {
	deadline := time.Now().Add(busyTimeout)
	pause := time.Millisecond
	for {
		var mode string
		err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				// A file system without the shared memory WAL needs:
				// the store still works, its writers and readers
				// exclude each other.
				s.log.Warn("local backend: the database cannot use WAL here", "data_dir", s.dir, "journal_mode", mode)
			}
			return nil
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return fmt.Errorf("switching %s to WAL: %w", dbFile, err)
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// migrate applies the missing migrations in one transaction; a concurrent
// process doing the same waits on the write lock and then finds nothing to do.
func (s *store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := migrateTx(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func migrateTx(ctx context.Context, tx *sql.Tx) error {
	{
		var v int
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
			return fmt.Errorf("reading the schema version: %w", err)
		}
		if v > len(migrations) {
			return fmt.Errorf("%s has schema version %d, newer than this build knows (%d): upgrade mcp-cfstorage", dbFile, v, len(migrations))
		}
		if v == len(migrations) {
			return nil
		}
		for ; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrating the schema to version %d: %w", v+1, err)
			}
		}
		// PRAGMA takes no parameters; v is an int.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v)); err != nil {
			return fmt.Errorf("setting the schema version: %w", err)
		}
		return nil
	}
}

// mkdirDurable creates dir if it is missing and makes its entry durable, so
// that the files later created inside it cannot vanish with it on a crash.
func mkdirDurable(dir string) error {
	err := os.Mkdir(dir, 0o700)
	switch {
	case os.IsExist(err):
		return nil
	case os.IsNotExist(err):
		if err := mkdirDurable(filepath.Dir(dir)); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
			return err
		}
	case err != nil:
		return err
	}
	return durable.SyncDir(filepath.Dir(dir))
}
