package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// DefaultMaxRows caps the rows of one statement returned inline by d1_query.
const DefaultMaxRows = 200

type d1Tools struct{ Deps }

type listDatabasesIn struct {
	Prefix string `json:"prefix,omitempty" jsonschema:"only names starting with this"`
	Cursor string `json:"cursor,omitempty" jsonschema:"from the previous page"`
	Limit  int    `json:"limit,omitempty" jsonschema:"per page" schema:"minimum=1,maximum=10000,default=100"`
}

type databaseOut struct {
	ID        string `json:"id" jsonschema:"database id (a UUID), used in wrangler bindings"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at,omitempty" jsonschema:"when it was created (RFC 3339)"`
	FileSize  int64  `json:"file_size,omitempty" jsonschema:"size of the database in bytes, when known"`
}

func toDatabaseOut(db storage.Database) databaseOut {
	out := databaseOut{ID: db.ID, Name: db.Name, FileSize: db.FileSize}
	if !db.CreatedAt.IsZero() {
		out.CreatedAt = db.CreatedAt.UTC().Format(time.RFC3339)
	}
	return out
}

type listDatabasesOut struct {
	Databases []databaseOut `json:"databases"`
	Cursor    string        `json:"cursor,omitempty" jsonschema:"pass as cursor to get the next page; absent on the last page"`
}

func (d d1Tools) listDatabases(ctx context.Context, in listDatabasesIn) (listDatabasesOut, error) {
	page, err := d.Store.D1().ListDatabases(ctx, storage.ListOptions{Prefix: in.Prefix, Cursor: in.Cursor, Limit: in.Limit})
	if err != nil {
		return listDatabasesOut{}, err
	}
	out := listDatabasesOut{Databases: []databaseOut{}, Cursor: page.Cursor}
	for _, db := range page.Databases {
		out.Databases = append(out.Databases, toDatabaseOut(db))
	}
	return out, nil
}

type createDatabaseIn struct {
	Name                string `json:"name" jsonschema:"unique: lowercase letters, digits, - and _, starting with a letter or digit"`
	PrimaryLocationHint string `json:"primary_location_hint,omitempty" jsonschema:"primary's region; omit for near you" schema:"enum=wnam|enam|weur|eeur|apac|oc"`
	Jurisdiction        string `json:"jurisdiction,omitempty" jsonschema:"keep the data inside it" schema:"enum=eu|fedramp"`
}

type createDatabaseOut struct {
	databaseOut
	WranglerTOML string `json:"wrangler_toml" jsonschema:"the [[d1_databases]] block to paste into wrangler.toml"`
}

func (d d1Tools) createDatabase(ctx context.Context, in createDatabaseIn) (createDatabaseOut, error) {
	db, err := d.Store.D1().CreateDatabase(ctx, storage.DatabaseSpec{Name: in.Name, PrimaryLocationHint: in.PrimaryLocationHint, Jurisdiction: in.Jurisdiction})
	if err != nil {
		return createDatabaseOut{}, err
	}
	toml := storage.ConfigNote(d.Store.Name(), storage.CreateD1Command(db.Name)) + storage.D1BindingTOML(storage.BindingName(db.Name, "DB"), db)
	return createDatabaseOut{databaseOut: toDatabaseOut(db), WranglerTOML: toml}, nil
}

type deleteDatabaseIn struct {
	Database string `json:"database" jsonschema:"id or name"`
	Confirm  string `json:"confirm,omitempty" jsonschema:"without elicitation: must equal the database's name"`
}

type deleteDatabaseOut struct {
	Deleted bool   `json:"deleted"`
	ID      string `json:"id"`
	Name    string `json:"name"`
}

func (d d1Tools) deleteDatabase(ctx context.Context, in deleteDatabaseIn) (deleteDatabaseOut, error) {
	db, err := d.Store.Database(ctx, in.Database)
	if err != nil {
		return deleteDatabaseOut{}, err
	}
	if err := d.Store.CanDelete(ctx, storage.AreaD1, db.ID); err != nil {
		return deleteDatabaseOut{}, err
	}
	if full, err := d.Store.D1().GetDatabase(ctx, db.ID); err == nil {
		db = full // its size and tables, for the user
	}
	del := Deletion{Tool: "delete_d1_database", What: "D1 database", Name: db.Name, NameIs: "name", Detail: databaseDetail(db)}
	if err := confirmed(ctx, d.Confirm, del, &in.Confirm); err != nil {
		return deleteDatabaseOut{}, err
	}
	if err := d.Store.D1().DeleteDatabase(ctx, db.ID); err != nil {
		return deleteDatabaseOut{}, err
	}
	return deleteDatabaseOut{Deleted: true, ID: db.ID, Name: db.Name}, nil
}

// databaseDetail says what a database holds, as far as the backend reports.
func databaseDetail(db storage.Database) string {
	switch {
	case db.NumTables > 0 && db.FileSize > 0:
		return fmt.Sprintf("It holds %d tables in %d bytes, every row of which goes with it.", db.NumTables, db.FileSize)
	case db.FileSize > 0:
		return fmt.Sprintf("It holds %d bytes of tables and rows, all of which go with it.", db.FileSize)
	}
	return "Every table and row in it goes with it."
}

type d1QueryIn struct {
	Database string            `json:"database" jsonschema:"id or name"`
	SQL      string            `json:"sql" jsonschema:"one statement, or several separated by ;, at most 100000 bytes"`
	Params   []json.RawMessage `json:"params,omitempty" jsonschema:"values for the ? of a single statement, at most 100: null, boolean, number or string"`
}

type queryMetaOut struct {
	Changes     int64   `json:"changes" jsonschema:"rows inserted, updated or deleted"`
	LastRowID   int64   `json:"last_row_id" jsonschema:"rowid of the last row inserted"`
	RowsRead    int64   `json:"rows_read"`
	RowsWritten int64   `json:"rows_written"`
	DurationMS  float64 `json:"duration_ms" jsonschema:"time the statement took, in milliseconds"`
}

type queryResultOut struct {
	Columns   []string     `json:"columns"`
	Rows      [][]any      `json:"rows" jsonschema:"rows as arrays in the order of columns: numbers, strings, null, and blobs as {\"base64\": ...}"`
	RowCount  int          `json:"row_count" jsonschema:"rows the statement returned, including those not shown"`
	Truncated bool         `json:"truncated,omitempty" jsonschema:"true when only the first rows are shown"`
	Meta      queryMetaOut `json:"meta"`
}

type d1QueryOut struct {
	Database string           `json:"database" jsonschema:"the database's id"`
	Results  []queryResultOut `json:"results" jsonschema:"one result per statement, in order"`
	Note     string           `json:"note,omitempty" jsonschema:"what was left out and how to get it"`
}

func decodeParams(raw []json.RawMessage) ([]any, error) {
	params := make([]any, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, storage.Errorf(storage.CodeInvalidArgument, "params[%d]: not JSON: %v", i, err)
		}
		switch x := v.(type) {
		case nil, bool, string:
			params[i] = x
		case json.Number:
			if n, err := x.Int64(); err == nil {
				params[i] = n
			} else if f, err := x.Float64(); err == nil {
				params[i] = f
			} else {
				return nil, storage.Errorf(storage.CodeInvalidArgument, "params[%d]: %s is not a number D1 can store", i, x)
			}
		default:
			return nil, storage.Errorf(storage.CodeInvalidArgument,
				"params[%d]: must be null, a boolean, a number or a string, not an %s", i, map[bool]string{true: "array", false: "object"}[strings.HasPrefix(strings.TrimSpace(string(r)), "[")])
		}
	}
	return params, nil
}

func (d d1Tools) query(ctx context.Context, in d1QueryIn) (d1QueryOut, error) {
	db, err := d.Store.Database(ctx, in.Database)
	if err != nil {
		return d1QueryOut{}, err
	}
	params, err := decodeParams(in.Params)
	if err != nil {
		return d1QueryOut{}, err
	}
	results, err := d.Store.D1().Query(ctx, db.ID, []storage.Statement{{SQL: in.SQL, Params: params}}, storage.QueryOptions{MaxRows: d.MaxRows})
	if err != nil {
		return d1QueryOut{}, err
	}
	limit := d.MaxRows
	out := d1QueryOut{Database: db.ID, Results: make([]queryResultOut, 0, len(results))}
	var notes []string
	for i, r := range results {
		ro := queryResultOut{
			Columns:  r.Columns,
			RowCount: max(r.RowCount, len(r.Rows)),
			Meta: queryMetaOut{Changes: r.Meta.Changes, LastRowID: r.Meta.LastRowID, RowsRead: r.Meta.RowsRead,
				RowsWritten: r.Meta.RowsWritten, DurationMS: float64(r.Meta.Duration.Microseconds()) / 1000},
		}
		if ro.Columns == nil {
			ro.Columns = []string{}
		}
		rows := r.Rows
		if len(rows) > limit {
			rows = rows[:limit]
		}
		if ro.RowCount > len(rows) {
			ro.Truncated = true
			which := ""
			if len(results) > 1 {
				which = fmt.Sprintf("statement %d: ", i)
			}
			notes = append(notes, fmt.Sprintf("%sshowing the first %d of %d rows; %d more not shown. Page with ORDER BY and LIMIT %d OFFSET %d (then OFFSET %d, ...), or narrow the query.",
				which, len(rows), ro.RowCount, ro.RowCount-len(rows), limit, limit, 2*limit))
		}
		ro.Rows = make([][]any, len(rows))
		for j, row := range rows {
			ro.Rows[j] = make([]any, len(row))
			for k, v := range row {
				if b, ok := v.([]byte); ok {
					v = map[string]string{"base64": base64.StdEncoding.EncodeToString(b)}
				}
				ro.Rows[j][k] = v
			}
		}
		out.Results = append(out.Results, ro)
	}
	out.Note = strings.Join(notes, " ")
	return out, nil
}

var (
	d1QueryHints  = Hints{ReadOnly: No, Destructive: Yes, Idempotent: No, OpenWorld: No}
	d1DeleteHints = Hints{ReadOnly: No, Destructive: Yes, Idempotent: Yes, OpenWorld: No}
)

func (d d1Tools) declare() ([]Tool, []error) {
	g := newGroup(ToolsetD1, d.Deps)
	add(g, Spec[listDatabasesIn, listDatabasesOut]{
		Name: "list_d1_databases", Title: "List D1 databases", Hints: readHints, Handle: d.listDatabases,
		Description: "List D1 (SQLite) databases (id, name, creation time). Pass either as database to d1_query.",
	})
	add(g, Spec[createDatabaseIn, createDatabaseOut]{
		Name: "create_d1_database", Title: "Create a D1 database", Hints: createHints, Handle: d.createDatabase,
		Description: "Create an empty D1 (SQLite) database; returns its id and a wrangler.toml binding for a Worker.",
	})
	add(g, Spec[deleteDatabaseIn, deleteDatabaseOut]{
		Name: "delete_d1_database", Title: "Delete a D1 database", Hints: d1DeleteHints, Handle: d.deleteDatabase,
		Description: "Delete a D1 database with all its tables and rows, for good. Ask the user first (with elicitation the server asks).",
	})
	add(g, Spec[d1QueryIn, d1QueryOut]{
		Name: "d1_query", Title: "Run SQL on a D1 database", Hints: d1QueryHints, Handle: d.query,
		// Offered under --read-only too: the Store then runs only
		// statements that SQLite says cannot write, refusing the others
		// with read_only.
		KeepReadOnly: true,
		Description: fmt.Sprintf("Run SQLite SQL on a D1 database as one all-or-nothing batch, at most 30 s; values go in params, never in the SQL. "+
			"Returns per statement columns, up to %d rows (page with LIMIT/OFFSET) and meta. "+
			"No ATTACH, DETACH, BEGIN, COMMIT or SAVEPOINT; read-only mode runs only reads.", d.MaxRows),
	})
	return g.done()
}
