package miniflare

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/d1sql"
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
// of a write (see dsn), after checkWritable; internal/d1sql runs it, with
// the same rules as the embedded backend. A batch that only reads, on a
// database the Worker never used, runs on an empty in-memory database.
func (d *d1Store) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	db, err := d.database(id)
	if err != nil {
		return nil, err
	}
	batch, readOnly, err := d1sql.Split(stmts)
	if err != nil {
		return nil, err
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
	return d1sql.Run(ctx, qctx, c.Conn, d1sql.Batch{
		Stmts: batch, ReadOnly: opts.ReadOnly, ConnReadOnly: !c.write, MaxRows: opts.MaxRows,
		Limit: storage.D1QueryTimeout, Prefix: "wrangler state",
		FileErr: func(err error) error { return dbErr(ctx, "D1 query on", c.path, c.write, err) },
	})
}
