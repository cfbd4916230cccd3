package local

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

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/d1sql"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// d1Store is D1 on the local store: a catalogue in store.db and one SQLite
// file per database under d1/. A batch runs on the file as internal/d1sql
// runs it (one transaction, SQLite's authorizer deciding what --read-only
// allows); under QueryOptions.ReadOnly the file is also opened with mode=ro
// and query_only.
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
	db := storage.Database{ID: storage.NewDatabaseID(), Name: spec.Name, CreatedAt: st.now().UTC().Truncate(time.Millisecond)}
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
	batch, _, err := d1sql.Split(stmts)
	if err != nil {
		return nil, err
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
	return d1sql.Run(ctx, qctx, conn, d1sql.Batch{
		Stmts: batch, ReadOnly: opts.ReadOnly, ConnReadOnly: opts.ReadOnly, MaxRows: opts.MaxRows,
		Limit: d.b.d1Timeout, Prefix: "local",
		FileErr: func(err error) error { return dbErr(ctx, "D1 query", err) },
	})
}
