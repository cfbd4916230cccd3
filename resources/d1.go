package resources

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// D1 resources: d1://{database}/ lists the tables of a database with their
// columns, d1://{database}/{table} reads the first rows of a table.
//
// Table names reach SQL in one way only: the user's name is looked up in
// sqlite_master with a bound parameter, and only the name stored there (an
// existing table's) is quoted as an identifier ("..." with embedded quotes
// doubled) for the row read. A name that is not a table, however hostile,
// is simply not found. Every statement runs with QueryOptions.ReadOnly.

const (
	schemeD1 = "d1"

	TemplateD1 = "d1://{database}/{table}"

	// MaxTableRows is the most rows a table read returns.
	MaxTableRows = 100
	// maxListedTables is the most tables a database listing shows.
	maxListedTables = 1000
)

// DatabaseURI is the folder URI of a database: d1://<database>/, which lists
// its tables.
func DatabaseURI(database string) string { return TableURI(database, "") }

// TableURI is the URI of a table of a database.
func TableURI(database, table string) string {
	return schemeD1 + "://" + escapeName(database) + "/" + escapeName(table)
}

// d1Ref is a parsed d1:// URI: the database reference (id or name) and the
// table, both decoded; table is "" for the database's listing.
type d1Ref struct {
	database string
	table    string
}

func parseD1URI(uri string) (d1Ref, error) {
	var r d1Ref
	rest, ok := strings.CutPrefix(uri, schemeD1+"://")
	if !ok {
		return r, invalidURI("not a d1:// URI")
	}
	if strings.ContainsAny(rest, "?#") {
		return r, invalidURI("d1:// URIs take no query or fragment; percent-encode ? and # in names")
	}
	db, table, ok := strings.Cut(rest, "/")
	if !ok {
		return r, invalidURI("want d1://<database>/ or d1://<database>/<table>")
	}
	if strings.Contains(table, "/") {
		return r, invalidURI("a table name has no raw /; percent-encode it as %%2F")
	}
	var err error
	if r.database, err = url.PathUnescape(db); err != nil || r.database == "" {
		return r, invalidURI("the database is missing or badly percent-encoded")
	}
	if r.table, err = url.PathUnescape(table); err != nil {
		return r, invalidURI("the table is badly percent-encoded")
	}
	return r, nil
}

// quoteIdent quotes a name as an SQLite identifier.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

var (
	sqlTables = `SELECT name, sql FROM sqlite_master WHERE ` + storage.D1UserTables + ` ORDER BY name LIMIT ` +
		fmt.Sprint(maxListedTables+1)
	sqlColumns = `SELECT m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk FROM sqlite_master AS m ` +
		`JOIN pragma_table_info(m.name) AS p WHERE m.name IN (SELECT name FROM sqlite_master WHERE ` + storage.D1UserTables +
		` ORDER BY name LIMIT ` + fmt.Sprint(maxListedTables) + `) ORDER BY m.name, p.cid`
	// sqlFindTable finds a table by name as SQLite does, without regard to
	// ASCII case, preferring an exact match.
	sqlFindTable = `SELECT name FROM sqlite_master WHERE ` + storage.D1UserTables + ` AND name = ?1 COLLATE NOCASE ` +
		`ORDER BY name = ?1 DESC LIMIT 1`
	sqlTableNames = `SELECT name FROM sqlite_master WHERE ` + storage.D1UserTables + ` ORDER BY name`
)

// query runs read-only statements on a database.
func query(ctx context.Context, store *storage.Store, db storage.Database, maxRows int, stmts ...storage.Statement) ([]storage.QueryResult, error) {
	return store.D1().Query(ctx, db.ID, stmts, storage.QueryOptions{ReadOnly: true, MaxRows: maxRows})
}

type databaseInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type columnInfo struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	NotNull bool   `json:"not_null,omitempty"`
	Default any    `json:"default,omitempty"`
	// PK is the column's position in the primary key (1-based); 0 if not
	// part of it.
	PK int64 `json:"pk,omitempty"`
}

type tableInfo struct {
	Name    string       `json:"name"`
	URI     string       `json:"uri"`
	Columns []columnInfo `json:"columns"`
	SQL     string       `json:"sql,omitempty"`
}

// databaseListing is what d1://{database}/ reads as.
type databaseListing struct {
	URI      string       `json:"uri"`
	Database databaseInfo `json:"database"`
	Tables   []tableInfo  `json:"tables"`
	Note     string       `json:"note,omitempty"`
}

// tableRows is what d1://{database}/{table} reads as.
type tableRows struct {
	URI      string       `json:"uri"`
	Database databaseInfo `json:"database"`
	Table    string       `json:"table"`
	Columns  []string     `json:"columns"`
	Rows     [][]any      `json:"rows"`
	// RowCount is the table's number of rows, given when all of them are
	// shown (counting a large table would read all of it).
	RowCount *int   `json:"row_count,omitempty"`
	Note     string `json:"note"`
}

func (r *Resources) readD1(ctx context.Context, uri string) ([]mcp.ResourceContents, error) {
	ref, err := parseD1URI(uri)
	if err != nil {
		return nil, err
	}
	db, err := r.store.Database(ctx, ref.database)
	if err != nil {
		return nil, err
	}
	if ref.table == "" {
		return r.readDatabase(ctx, uri, db)
	}
	return r.readTable(ctx, uri, db, ref.table)
}

func (r *Resources) readDatabase(ctx context.Context, uri string, db storage.Database) ([]mcp.ResourceContents, error) {
	res, err := query(ctx, r.store, db, 0, storage.Statement{SQL: sqlTables}, storage.Statement{SQL: sqlColumns})
	if err != nil {
		return nil, err
	}
	out := databaseListing{URI: uri, Database: databaseInfo{db.ID, db.Name}, Tables: []tableInfo{}}
	byName := map[string]int{}
	for _, row := range res[0].Rows {
		if len(out.Tables) == maxListedTables {
			out.Note = fmt.Sprintf("only the first %d tables (by name) are listed; "+
				"query sqlite_master with d1_query for the others", maxListedTables)
			break
		}
		name := asString(row[0])
		byName[name] = len(out.Tables)
		out.Tables = append(out.Tables, tableInfo{Name: name, URI: TableURI(db.ID, name), Columns: []columnInfo{}, SQL: asString(row[1])})
	}
	for _, row := range res[1].Rows {
		i, ok := byName[asString(row[0])]
		if !ok {
			continue
		}
		notNull, _ := row[3].(int64)
		pk, _ := row[5].(int64)
		out.Tables[i].Columns = append(out.Tables[i].Columns, columnInfo{
			Name: asString(row[1]), Type: asString(row[2]), NotNull: notNull != 0, Default: row[4], PK: pk})
	}
	return listingContents(uri, out)
}

func (r *Resources) readTable(ctx context.Context, uri string, db storage.Database, table string) ([]mcp.ResourceContents, error) {
	name, err := r.findTable(ctx, db, table)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, storage.Errorf(storage.CodeNotFound, "no table %q in D1 database %q (read %s for its tables)",
			table, db.Name, DatabaseURI(db.ID))
	}
	sql := fmt.Sprintf("SELECT * FROM %s LIMIT %d", quoteIdent(name), MaxTableRows+1)
	res, err := query(ctx, r.store, db, MaxTableRows, storage.Statement{SQL: sql})
	if err != nil {
		return nil, err
	}
	q := res[0]
	out := tableRows{URI: uri, Database: databaseInfo{db.ID, db.Name}, Table: name, Columns: q.Columns, Rows: make([][]any, len(q.Rows))}
	for i, row := range q.Rows {
		out.Rows[i] = jsonRow(row)
	}
	more := q.RowCount > len(q.Rows)
	text, err := json.Marshal(finish(&out, more))
	if err != nil {
		return nil, err
	}
	// Keep the read within the inline limit: fewer rows rather than none.
	for int64(len(text)) > r.maxInline && len(out.Rows) > 0 {
		out.Rows = out.Rows[:len(out.Rows)/2]
		if text, err = json.Marshal(finish(&out, true)); err != nil {
			return nil, err
		}
	}
	if int64(len(text)) > r.maxInline {
		return nil, r.tooLarge(int64(len(text)), "select fewer columns with the d1_query tool")
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(text)}}, nil
}

// finish sets the row count and note of a table read showing out.Rows, more
// rows existing or not.
func finish(out *tableRows, more bool) *tableRows {
	n := len(out.Rows)
	if !more {
		out.RowCount = &n
		out.Note = fmt.Sprintf("all %d rows of the table", n)
		return out
	}
	out.RowCount = nil
	out.Note = fmt.Sprintf("the first %d rows; the table has more: page with the d1_query tool, "+
		"e.g. SELECT * FROM %s LIMIT %d OFFSET %d", n, quoteIdent(out.Table), MaxTableRows, n)
	return out
}

// findTable returns the stored name of the table named table (any ASCII
// case), or "" when there is none. The name is a bound parameter.
func (r *Resources) findTable(ctx context.Context, db storage.Database, table string) (string, error) {
	res, err := query(ctx, r.store, db, 1, storage.Statement{SQL: sqlFindTable, Params: []any{table}})
	if err != nil {
		return "", err
	}
	if len(res[0].Rows) == 0 {
		return "", nil
	}
	return asString(res[0].Rows[0][0]), nil
}

// tableNames lists the user tables of a database, by name.
func tableNames(ctx context.Context, store *storage.Store, db storage.Database) ([]string, error) {
	res, err := query(ctx, store, db, 10_000, storage.Statement{SQL: sqlTableNames})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(res[0].Rows))
	for _, row := range res[0].Rows {
		names = append(names, asString(row[0]))
	}
	return names, nil
}

func asString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// jsonRow makes a row's values JSON as d1_query gives them: numbers stay
// numbers, blobs become {"base64": ...}, and the infinities SQLite can store
// (which JSON cannot) become strings.
func jsonRow(row []any) []any {
	out := make([]any, len(row))
	for i, v := range row {
		switch x := v.(type) {
		case []byte:
			v = map[string]string{"base64": base64.StdEncoding.EncodeToString(x)}
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				v = fmt.Sprint(x)
			}
		}
		out[i] = v
	}
	return out
}

// Refresh and completion.

func databaseResource(db storage.Database) mcp.Resource {
	name := db.Name
	if name == "" {
		name = db.ID
	}
	return mcp.NewResource(DatabaseURI(db.ID), "d1:"+name,
		mcp.WithResourceTitle(name),
		mcp.WithResourceDescription(fmt.Sprintf("D1 database %q (id %s): reads as a JSON listing of its tables with their columns, each with its d1:// URI.", name, db.ID)),
		mcp.WithMIMEType("application/json"))
}

// databases matches the prefix against names and ids, as namespaces does.
func (c *Completer) databases(ctx context.Context, prefix string) (*mcp.Completion, error) {
	lower := strings.ToLower(prefix)
	var values []string
	for db, err := range storage.AllDatabases(ctx, c.store.D1(), storage.ListOptions{}) {
		if err != nil {
			return quiet(err)
		}
		switch {
		case db.Name != "" && strings.HasPrefix(db.Name, lower):
			values = append(values, db.Name)
		case prefix != "" && strings.HasPrefix(strings.ToLower(db.ID), lower):
			values = append(values, db.ID)
		}
	}
	slices.Sort(values)
	return completion(slices.Compact(values), false), nil
}

// tables suggests the tables of the chosen database whose names start with
// the typed prefix (any ASCII case), in URI form.
func (c *Completer) tables(ctx context.Context, database, value string) (*mcp.Completion, error) {
	if database == "" {
		return completion(nil, false), nil
	}
	if d, err := url.PathUnescape(database); err == nil {
		database = d
	}
	prefix := value
	if p, err := url.PathUnescape(value); err == nil {
		prefix = p
	}
	db, err := c.store.Database(ctx, database)
	if err != nil {
		return quiet(err)
	}
	names, err := tableNames(ctx, c.store, db)
	if err != nil {
		return quiet(err)
	}
	var values []string
	for _, n := range names {
		if strings.HasPrefix(strings.ToLower(n), strings.ToLower(prefix)) {
			values = append(values, escapeName(n))
		}
	}
	return completion(values, false), nil
}
