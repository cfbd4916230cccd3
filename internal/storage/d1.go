package storage

import (
	"context"
	"time"
)

// D1 is Cloudflare D1: SQLite databases, addressed by id (a UUID);
// Store.Database resolves names.
type D1 interface {
	// ListDatabases lists databases by name; Prefix filters on the name.
	ListDatabases(ctx context.Context, opts ListOptions) (DatabasePage, error)
	CreateDatabase(ctx context.Context, spec DatabaseSpec) (Database, error)
	GetDatabase(ctx context.Context, id string) (Database, error)
	DeleteDatabase(ctx context.Context, id string) error
	// Query runs stmts in order as one batch: in one transaction, so that
	// either all of them take effect or none does. It returns one result per
	// statement. Parameters are bound, never spliced into the SQL. With
	// opts.ReadOnly a backend runs only statements that cannot write, and
	// refuses the others with ErrReadOnly.
	Query(ctx context.Context, databaseID string, stmts []Statement, opts QueryOptions) ([]QueryResult, error)
}

// Database is a D1 database.
type Database struct {
	ID        string
	Name      string
	CreatedAt time.Time
	// FileSize and NumTables are reported when the backend knows
	// them; zero otherwise.
	FileSize  int64
	NumTables int
}

// DatabaseSpec describes a database to create. Empty fields take
// Cloudflare's defaults.
type DatabaseSpec struct {
	Name                string
	PrimaryLocationHint string
	Jurisdiction        string
}

// DatabasePage is one page of databases; Cursor is empty on the last page.
type DatabasePage struct {
	Databases []Database
	Cursor    string
}

// Statement is one SQL statement with the values of its ? (or ?NNN)
// parameters. A parameter is nil, bool, int, int64, float64, string or
// []byte.
type Statement struct {
	SQL    string
	Params []any
}

// QueryOptions qualify a Query.
type QueryOptions struct {
	// ReadOnly runs only statements that cannot write. Store sets it under
	// Policy.ReadOnly.
	ReadOnly bool
	// MaxRows, when above 0, keeps at most that many rows of each
	// statement's result; the rest are only counted in RowCount. It bounds
	// the memory a large result takes.
	MaxRows int
}

// QueryResult is the outcome of one statement. Rows hold int64, float64,
// string, []byte or nil, in the order of Columns.
type QueryResult struct {
	Columns []string
	Rows    [][]any
	// RowCount is how many rows the statement returned: more than
	// len(Rows) when QueryOptions.MaxRows cut them.
	RowCount int
	Meta     QueryMeta
}

// QueryMeta is what D1 reports about a statement.
type QueryMeta struct {
	Changes     int64
	LastRowID   int64
	RowsRead    int64
	RowsWritten int64
	Duration    time.Duration
}

// D1UserTables is the WHERE clause over sqlite_master that selects the
// tables a user of a D1 database sees: not SQLite's own (sqlite_sequence,
// sqlite_stat1) and not D1's internal ones (_cf_KV, _cf_METADATA, which D1
// does not let queries read).
const D1UserTables = `type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name NOT LIKE '\_cf\_%' ESCAPE '\'`

// D1QueryTimeout is how long a batch may run before it is interrupted.
const D1QueryTimeout = 30 * time.Second
