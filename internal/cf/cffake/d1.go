package cffake

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// D1 limits the fake enforces, from developers.cloudflare.com/d1/platform/
// limits: "Maximum SQL statement length: 100,000 bytes (100 KB)" and
// "Maximum bound parameters per query: 100" (workerd sets the latter as
// SQLITE_LIMIT_VARIABLE_NUMBER).
const (
	maxD1StatementBytes = 100_000
	maxD1BoundParams    = 100
	// maxD1Body bounds a query body. Chosen: D1 states no request limit;
	// this is far above any statement the limits above allow plus a
	// 2 MB blob parameter (D1's row size limit).
	maxD1Body = 16 << 20
)

// d1Names is the spec's d1_database-name pattern.
var d1Names = regexp.MustCompile(`^[a-z0-9][a-z0-9-_]*$`)

// d1LocationHints is the spec's d1_primary-location-hint enum.
var d1LocationHints = []string{"wnam", "enam", "weur", "eeur", "apac", "oc"}

// d1Jurisdictions are the values of create's jurisdiction, which the
// reference spec predates; taken from Cloudflare's current API description
// as cloudflare-go v7.9.0 generates it (d1.DatabaseNewParamsJurisdiction).
var d1Jurisdictions = []string{"eu", "fedramp", "us"}

func d1Routes() []route {
	const (
		dbs = "/accounts/{account_id}/d1/database"
		db  = dbs + "/{database_id}"
	)
	get, post, del := http.MethodGet, http.MethodPost, http.MethodDelete
	// export and import are not served: they hand out signed R2 URLs and
	// run as polled background tasks, which nothing in mcp-cfstorage uses.
	return []route{
		{method: get, pattern: dbs, perm: PermD1Read, handle: (*Server).listDatabases},
		{method: post, pattern: dbs, perm: PermD1Edit, handle: (*Server).createDatabase},
		{method: get, pattern: db, perm: PermD1Read, handle: (*Server).getDatabase},
		{method: del, pattern: db, perm: PermD1Edit, handle: (*Server).deleteDatabase},
		// A token with D1 Read may query: statements that write then fail
		// with 403 (see runBatch). Cloudflare's changelog of May 2025 made
		// D1 Edit required for writes through the HTTP API.
		{method: post, pattern: db + "/query", perm: PermD1Read, handle: (*Server).queryDatabase},
		{method: post, pattern: db + "/raw", perm: PermD1Read, handle: (*Server).rawQueryDatabase},
	}
}

// d1Database is a D1 database: an in-memory SQLite database that lives as
// long as conn is open. mu serializes statements and guards closed.
type d1Database struct {
	uuid      string
	name      string
	createdAt time.Time

	mu     sync.Mutex
	db     *sql.DB
	conn   *sql.Conn
	closed bool
}

// openD1 creates an empty in-memory database. The name in the DSN is a
// fresh UUID, so databases never share a cache, not even across Servers.
func openD1(uuid string) (*sql.DB, *sql.Conn, error) {
	db, err := sql.Open("sqlite", "file:"+uuid+"?mode=memory&cache=shared&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(context.Background())
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, conn, nil
}

// close drops the database's contents. Safe to call twice.
func (d *d1Database) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	_ = d.conn.Close()
	_ = d.db.Close()
}

// closeDatabases closes every D1 database of every account; Close calls it.
func (s *Server) closeDatabases() {
	s.mu.Lock()
	var all []*d1Database
	for _, a := range s.accounts {
		for id, d := range a.databases {
			all = append(all, d)
			delete(a.databases, id)
		}
	}
	s.mu.Unlock()
	for _, d := range all {
		d.close()
	}
}

// newUUID returns a random version 4 UUID in its lowercase hyphenated form,
// the form of D1 database ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// --- errors ---------------------------------------------------------------------
//
// D1's codes, with the same conventions as errors.go. D1 uses 74xx codes
// that repeat the HTTP status (7403 with 403, workers-sdk#15467; 7404) and
// 75xx for what the database refused (7500 for SQL errors, 7502 for a taken
// name).

// d1NotFound: "The database <id> could not be found [code: 7404]", as
// wrangler quotes the API for a database id that does not exist, including
// one that is not a UUID at all ("db"). Status 404 chosen, by the 74xx
// pattern.
func d1NotFound(id string) *apiError {
	return fail(http.StatusNotFound, 7404, "The database %s could not be found", id)
}

// d1Exists: 7502 is the code wrangler turns into "A database with that name
// already exists" (workers-sdk d1/create.ts, since workers-sdk#2143). The
// status is not documented; 400 chosen, as for KV's duplicate title and for
// D1's other 75xx code, 7500.
func d1Exists() *apiError {
	return fail(http.StatusBadRequest, 7502, "A database with that name already exists")
}

// d1SQLError: 7500 with SQLite's message followed by ": SQLITE_<CODE>", as
// the HTTP API was observed to answer ("no such table: sqlite_sequence:
// SQLITE_ERROR", "table vn already exists at offset 13: SQLITE_ERROR" in
// public D1 client code and logs). Status 400 since Cloudflare's D1
// changelog of 2024-04-15 ("HTTP API now returns a HTTP 400 error for
// invalid queries"). The fake omits the " at offset N" D1 adds to some
// messages: the driver does not report the offset.
func d1SQLError(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 7500, format, args...)
}

// d1BadRequest rejects input the spec rules out (a name not matching its
// pattern, a location hint outside its enum, page or per_page out of
// bounds, a body without sql, a parameter of an unbindable type). Chosen:
// 400 with 7400, by the 74xx pattern; no source names a code for these.
func d1BadRequest(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 7400, format, args...)
}

func d1BodyTooLarge(n int64) *apiError {
	return fail(http.StatusRequestEntityTooLarge, 7400, "Request body of %d bytes exceeds limit of %d.", n, maxD1Body)
}

// --- databases --------------------------------------------------------------------

// d1DatabaseJSON is the spec's d1_database-response: what list and create
// return.
type d1DatabaseJSON struct {
	UUID      string `json:"uuid"`
	Name      string `json:"name"`
	CreatedAt string `json:"created_at"`
	Version   string `json:"version"`
}

// d1DetailsJSON is the spec's d1_database-details-response, returned by get.
type d1DetailsJSON struct {
	d1DatabaseJSON
	FileSize  int64 `json:"file_size"`
	NumTables int64 `json:"num_tables"`
}

// json is the database as list and create show it. Version is always
// "production": alpha and beta databases no longer exist.
func (d *d1Database) json() d1DatabaseJSON {
	return d1DatabaseJSON{
		UUID:      d.uuid,
		Name:      d.name,
		CreatedAt: d.createdAt.UTC().Format("2006-01-02T15:04:05.000000Z"),
		Version:   "production",
	}
}

// lookupDatabase finds the database named by the path. The caller holds
// s.mu. An id of the wrong case or shape is simply not found.
func (c *call) lookupDatabase() (*d1Database, *apiError) {
	id := c.params["database_id"]
	d := c.account.databases[id]
	if d == nil {
		return nil, d1NotFound(id)
	}
	return d, nil
}

// listDatabases serves GET …/d1/database with the spec's name, page (>= 1)
// and per_page (10..10000, default 1000).
func (s *Server) listDatabases(c *call) reply {
	q := c.req.URL.Query()
	pageNo, err := intParam(q, "page", 1, 1, 0, func(raw string) *apiError {
		return d1BadRequest("Invalid page of %s. Please specify an integer of at least 1.", raw)
	})
	if err != nil {
		return err
	}
	const lo, hi = 10, 10000
	perPage, err := intParam(q, "per_page", 1000, lo, hi, func(raw string) *apiError {
		return d1BadRequest("Invalid per_page of %s. Please specify an integer between %d and %d.", raw, lo, hi)
	})
	if err != nil {
		return err
	}
	// "a database name to search for": chosen, a case-sensitive substring
	// match, so that an exact name finds its database (and perhaps others
	// whose names contain it, which a client must filter anyway).
	name := q.Get("name")

	s.mu.Lock()
	all := make([]d1DatabaseJSON, 0, len(c.account.databases))
	for _, d := range c.account.databases {
		if strings.Contains(d.name, name) {
			all = append(all, d.json())
		}
	}
	s.mu.Unlock()
	// The spec names no order; chosen: by name (names are unique), so
	// pages are stable.
	slices.SortFunc(all, func(x, y d1DatabaseJSON) int { return cmp.Compare(x.Name, y.Name) })
	items := page(all, pageNo, perPage)
	return okPage(items, pageInfo{Page: pageNo, PerPage: perPage, Count: len(items), TotalCount: len(all)})
}

// createBody is the spec's create body plus jurisdiction, which the
// current API accepts ("if this option is present, the location hint is
// ignored"). Other fields are ignored, as by every JSON decoder here.
type createBody struct {
	Name                *string `json:"name"`
	PrimaryLocationHint *string `json:"primary_location_hint"`
	Jurisdiction        *string `json:"jurisdiction"`
}

// createDatabase serves POST …/d1/database. A name the account already uses
// is 7502.
func (s *Server) createDatabase(c *call) reply {
	var body createBody
	if err := decodeJSON(c.req, maxJSONBody, &body, smallBodyTooLarge); err != nil {
		return err
	}
	if body.Name == nil || *body.Name == "" {
		return d1BadRequest("name is required")
	}
	if !d1Names.MatchString(*body.Name) {
		return d1BadRequest("Invalid database name %q: use lowercase letters, digits, '-' and '_', starting with a letter or digit.", *body.Name)
	}
	if h := body.PrimaryLocationHint; h != nil && !slices.Contains(d1LocationHints, *h) {
		return d1BadRequest("Invalid primary_location_hint %q: use one of %s.", *h, strings.Join(d1LocationHints, ", "))
	}
	if j := body.Jurisdiction; j != nil && !slices.Contains(d1Jurisdictions, *j) {
		return d1BadRequest("Invalid jurisdiction %q: use one of %s.", *j, strings.Join(d1Jurisdictions, ", "))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range c.account.databases {
		if d.name == *body.Name {
			return d1Exists()
		}
	}
	// The hint and jurisdiction are validated, not kept: no response of
	// the spec shows them, and an in-memory database has no location.
	d := &d1Database{uuid: newUUID(), name: *body.Name, createdAt: c.now}
	var err error
	if d.db, d.conn, err = openD1(d.uuid); err != nil {
		return fail(http.StatusInternalServerError, 7500, "cffake: opening an in-memory database: %v", err)
	}
	c.account.databases[d.uuid] = d
	return ok(d.json())
}

// getDatabase serves GET …/d1/database/{id} with the details: file_size is
// SQLite's page_count × page_size, num_tables counts the user's tables.
func (s *Server) getDatabase(c *call) reply {
	s.mu.Lock()
	d, err := c.lookupDatabase()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return d1NotFound(d.uuid)
	}
	out := d1DetailsJSON{d1DatabaseJSON: d.json()}
	ctx := c.req.Context()
	if e := d.conn.QueryRowContext(ctx, "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()").Scan(&out.FileSize); e != nil {
		return errInternal(http.StatusInternalServerError)
	}
	if e := d.conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'").Scan(&out.NumTables); e != nil {
		return errInternal(http.StatusInternalServerError)
	}
	return ok(out)
}

// deleteDatabase serves DELETE …/d1/database/{id}; its contents go with it.
func (s *Server) deleteDatabase(c *call) reply {
	s.mu.Lock()
	d, err := c.lookupDatabase()
	if err == nil {
		delete(c.account.databases, d.uuid)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	d.close()
	return ok(nil)
}

// --- queries --------------------------------------------------------------------

// queryBody is the spec's query and raw body: sql, and params bound in
// order to the placeholders (? or ?NNN). The spec types params as strings;
// D1 also binds numbers, booleans (as 1/0), null and arrays of byte values
// (a BLOB), as the Workers binding does on the same wire (workers-sdk
// #2527), so the fake does too.
//
// The current API also takes {"batch": [{sql, params}, …]}, run as one
// transaction with a result per statement. The reference spec predates it;
// its shape is that of Cloudflare's current API description as
// cloudflare-go v7.9.0 generates it (d1.DatabaseQueryParamsBodyMultipleQueries,
// and the same for raw).
type queryBody struct {
	SQL    *string           `json:"sql"`
	Params []json.RawMessage `json:"params"`
	Batch  *[]queryStatement `json:"batch"`
}

type queryStatement struct {
	SQL    *string           `json:"sql"`
	Params []json.RawMessage `json:"params"`
}

// boundStatement is one statement ready to run.
type boundStatement struct {
	sql  string
	args []any
}

func (s *Server) queryDatabase(c *call) reply    { return s.runQuery(c, false) }
func (s *Server) rawQueryDatabase(c *call) reply { return s.runQuery(c, true) }

// d1Meta is the spec's d1_query-meta. duration is in milliseconds.
type d1Meta struct {
	ChangedDB   bool    `json:"changed_db"`
	Changes     int64   `json:"changes"`
	Duration    float64 `json:"duration"`
	LastRowID   int64   `json:"last_row_id"`
	RowsRead    int64   `json:"rows_read"`
	RowsWritten int64   `json:"rows_written"`
	SizeAfter   int64   `json:"size_after"`
}

// d1QueryResult is the spec's d1_query-result-response: rows as objects.
type d1QueryResult struct {
	Results []orderedRow `json:"results"`
	Success bool         `json:"success"`
	Meta    d1Meta       `json:"meta"`
}

// d1RawResult is the spec's d1_raw-result-response: rows as arrays.
type d1RawResult struct {
	Results d1RawRows `json:"results"`
	Success bool      `json:"success"`
	Meta    d1Meta    `json:"meta"`
}

type d1RawRows struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// statementResult is one statement's outcome before it is shaped.
type statementResult struct {
	columns []string
	rows    [][]any
	meta    d1Meta
}

// orderedRow is a row as a JSON object with its columns in the statement's
// order. A column name given twice appears once, at its first position, with
// the later value, as a JavaScript object built from the row would have it.
type orderedRow struct {
	columns []string
	values  []any
}

func (r orderedRow) MarshalJSON() ([]byte, error) {
	last := map[string]int{}
	for i, c := range r.columns {
		last[c] = i
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	seen := map[string]bool{}
	for _, c := range r.columns {
		if seen[c] {
			continue
		}
		seen[c] = true
		if len(seen) > 1 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(c)
		v, err := json.Marshal(r.values[last[c]])
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// runQuery serves POST …/query and …/raw. The sql (or each sql of a batch)
// may hold several statements separated by semicolons; they all run as one
// batch in a transaction, each with its own result, and the first that
// fails undoes the batch and answers 400 (7500) with SQLite's message.
func (s *Server) runQuery(c *call, raw bool) reply {
	s.mu.Lock()
	d, err := c.lookupDatabase()
	s.mu.Unlock()
	if err != nil {
		return err
	}
	var body queryBody
	if err := decodeJSON(c.req, maxD1Body, &body, d1BodyTooLarge); err != nil {
		return err
	}
	var items []queryStatement
	switch {
	case body.Batch != nil && (body.SQL != nil || body.Params != nil):
		return d1BadRequest("send either sql (with params) or batch, not both")
	case body.Batch != nil:
		if len(*body.Batch) == 0 {
			return d1BadRequest("batch holds no statement")
		}
		items = *body.Batch
	default:
		items = []queryStatement{{SQL: body.SQL, Params: body.Params}}
	}
	var stmts []boundStatement
	for i, it := range items {
		where := "sql"
		if body.Batch != nil {
			where = fmt.Sprintf("batch[%d].sql", i)
		}
		if it.SQL == nil || strings.TrimSpace(*it.SQL) == "" {
			return d1BadRequest("%s is required", where)
		}
		args, err := bindParams(it.Params)
		if err != nil {
			return err
		}
		parts := splitSQL(*it.SQL)
		if len(parts) == 0 {
			return d1BadRequest("%s holds no statement", where)
		}
		if len(parts) > 1 && len(args) > 0 {
			// Chosen: params bind to one statement; D1 documents no way
			// to spread them over several.
			return d1SQLError("cannot bind %d params to %d statements: send one statement with params: SQLITE_ERROR", len(args), len(parts))
		}
		if len(args) > maxD1BoundParams {
			// SQLite's message for SQLITE_LIMIT_VARIABLE_NUMBER, which D1
			// sets to 100 ("D1_ERROR: too many SQL variables",
			// leaysgur.github.io/posts/2023/12/13/135042).
			return d1SQLError("too many SQL variables: SQLITE_ERROR")
		}
		for _, p := range parts {
			if len(p) > maxD1StatementBytes {
				// SQLite's own message for SQLITE_LIMIT_SQL_LENGTH.
				return d1SQLError("statement too long: SQLITE_TOOBIG")
			}
			stmts = append(stmts, boundStatement{sql: p, args: args})
		}
	}

	results, apiErr := d.runBatch(c.req.Context(), stmts, c.token.grants(PermD1Edit))
	if apiErr != nil {
		return apiErr
	}
	if raw {
		out := make([]d1RawResult, len(results))
		for i, r := range results {
			out[i] = d1RawResult{Results: d1RawRows{Columns: r.columns, Rows: r.rows}, Success: true, Meta: r.meta}
		}
		return ok(out)
	}
	out := make([]d1QueryResult, len(results))
	for i, r := range results {
		rows := make([]orderedRow, len(r.rows))
		for j, row := range r.rows {
			rows[j] = orderedRow{columns: r.columns, values: row}
		}
		out[i] = d1QueryResult{Results: rows, Success: true, Meta: r.meta}
	}
	return ok(out)
}

// bindParams turns the JSON params into driver values: strings stay TEXT,
// integral numbers INTEGER, others REAL, booleans 1 or 0, null NULL, and an
// array of numbers 0..255 a BLOB.
func bindParams(params []json.RawMessage) ([]any, *apiError) {
	args := make([]any, len(params))
	for i, p := range params {
		var v any
		dec := json.NewDecoder(bytes.NewReader(p))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, errMalformedJSON()
		}
		switch v := v.(type) {
		case nil:
			args[i] = nil
		case string:
			args[i] = v
		case bool:
			args[i] = int64(0)
			if v {
				args[i] = int64(1)
			}
		case json.Number:
			if n, err := v.Int64(); err == nil {
				args[i] = n
			} else if f, err := v.Float64(); err == nil {
				args[i] = f
			} else {
				return nil, d1BadRequest("params[%d]: %s is not a number D1 can bind", i, v)
			}
		case []any:
			blob := make([]byte, len(v))
			for j, e := range v {
				n, isNum := e.(json.Number)
				b, err := n.Int64()
				if !isNum || err != nil || b < 0 || b > 255 {
					return nil, d1BadRequest("params[%d]: a BLOB is an array of byte values 0..255", i)
				}
				blob[j] = byte(b)
			}
			args[i] = blob
		default:
			return nil, d1BadRequest("params[%d]: D1 binds strings, numbers, booleans, null and arrays of bytes, not objects", i)
		}
	}
	return args, nil
}

// runBatch runs statements in one transaction on the database's connection.
// Without write permission the connection is query_only for the batch, and
// a statement that would write fails with 403 (10000), the answer to an
// operation the token's permissions do not cover.
func (d *d1Database) runBatch(ctx context.Context, stmts []boundStatement, canWrite bool) ([]statementResult, *apiError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, d1NotFound(d.uuid)
	}
	if !canWrite {
		if _, err := d.conn.ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
			return nil, errInternal(http.StatusInternalServerError)
		}
		defer func() { _, _ = d.conn.ExecContext(context.Background(), "PRAGMA query_only = 0") }()
	}
	tx, err := d.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, d1Err(err, canWrite)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	out := make([]statementResult, 0, len(stmts))
	for _, st := range stmts {
		r, err := runStatement(ctx, tx, st.sql, st.args)
		if err != nil {
			return nil, d1Err(err, canWrite)
		}
		out = append(out, r)
	}
	if err := tx.Commit(); err != nil {
		return nil, d1Err(err, canWrite)
	}
	return out, nil
}

// runStatement runs one statement and measures it. changes and
// rows_written are the rows the statement changed (total_changes before and
// after, so a SELECT reports 0); rows_read is, chosen, the rows it returned
// (SQLite does not count rows scanned); changed_db is true when the
// statement changed rows or the schema.
func runStatement(ctx context.Context, tx *sql.Tx, stmt string, args []any) (statementResult, error) {
	var changesBefore, schemaBefore int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes(), schema_version FROM pragma_schema_version()").Scan(&changesBefore, &schemaBefore); err != nil {
		return statementResult{}, err
	}
	start := time.Now()
	rows, err := tx.QueryContext(ctx, stmt, args...)
	if err != nil {
		return statementResult{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return statementResult{}, err
	}
	r := statementResult{columns: cols, rows: [][]any{}}
	if r.columns == nil {
		r.columns = []string{}
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return statementResult{}, err
		}
		for i, v := range vals {
			vals[i] = d1Value(v)
		}
		r.rows = append(r.rows, vals)
	}
	if err := rows.Err(); err != nil {
		return statementResult{}, err
	}
	if err := rows.Close(); err != nil {
		return statementResult{}, err
	}
	r.meta.Duration = float64(time.Since(start).Microseconds()) / 1000
	var changesAfter, schemaAfter, pages, pageSize int64
	err = tx.QueryRowContext(ctx, `SELECT total_changes(), last_insert_rowid(), s.schema_version, c.page_count, z.page_size
		FROM pragma_schema_version() s, pragma_page_count() c, pragma_page_size() z`).
		Scan(&changesAfter, &r.meta.LastRowID, &schemaAfter, &pages, &pageSize)
	if err != nil {
		return statementResult{}, err
	}
	r.meta.Changes = changesAfter - changesBefore
	r.meta.RowsWritten = r.meta.Changes
	r.meta.RowsRead = int64(len(r.rows))
	r.meta.ChangedDB = r.meta.Changes > 0 || schemaAfter != schemaBefore
	r.meta.SizeAfter = pages * pageSize
	return r, nil
}

// d1Value is a column value as D1 returns it in JSON: INTEGER and REAL as
// numbers, TEXT as a string, NULL as null, and a BLOB as an array of byte
// values (what the Workers runtime gives for an ArrayBuffer column, the
// same form D1 accepts a BLOB parameter in). A REAL that is infinite or NaN
// is null, as JavaScript's JSON.stringify writes it.
func d1Value(v any) any {
	switch v := v.(type) {
	case []byte:
		out := make([]int, len(v))
		for i, b := range v {
			out[i] = int(b)
		}
		return out
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil
		}
	case time.Time:
		// Not reached with the driver's defaults (no _texttotime); kept so
		// a timestamp never becomes something D1 would not send.
		return v.UTC().Format("2006-01-02 15:04:05.999999999")
	}
	return v
}

// d1Err answers a statement's failure: a write refused by query_only is a
// permission failure, anything else SQLite refused is 7500 with its message.
func d1Err(err error, canWrite bool) *apiError {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		// Errors from database/sql itself (an argument count it checks).
		return d1SQLError("%v: SQLITE_ERROR", err)
	}
	primary := se.Code() & 0xff
	if primary == sqlite3.SQLITE_READONLY && !canWrite {
		return errAuthentication()
	}
	return d1SQLError("%s: %s", sqliteMessage(se.Error()), sqliteCodeName(primary))
}

// sqliteErrstr holds the generic texts (sqlite3_errstr) that the driver
// puts before SQLite's own message.
var sqliteErrstr = map[string]bool{
	"SQL logic error": true, "access permission denied": true, "query aborted": true,
	"database is locked": true, "database table is locked": true, "out of memory": true,
	"attempt to write a readonly database": true, "interrupted": true, "constraint failed": true,
	"datatype mismatch": true, "bad parameter or other API misuse": true, "authorization denied": true,
	"column index out of range": true, "string or blob too big": true, "database schema has changed": true,
}

// sqliteMessage is SQLite's message (sqlite3_errmsg) out of the driver's
// "<errstr>: <errmsg> (<code>)", the text D1 puts before ": SQLITE_<NAME>".
func sqliteMessage(msg string) string {
	msg = strings.TrimSuffix(msg, " (SQLITE_BUSY)")
	if i := strings.LastIndex(msg, " ("); i > 0 && strings.HasSuffix(msg, ")") {
		msg = msg[:i]
	}
	if prefix, rest, found := strings.Cut(msg, ": "); found && sqliteErrstr[prefix] {
		msg = rest
	}
	return msg
}

// sqliteCodeName is the name of a primary SQLite result code.
func sqliteCodeName(code int) string {
	if n, ok := sqliteCodeNames[code]; ok {
		return n
	}
	return fmt.Sprintf("SQLITE_ERROR(%d)", code)
}

var sqliteCodeNames = map[int]string{
	sqlite3.SQLITE_ERROR:      "SQLITE_ERROR",
	sqlite3.SQLITE_ABORT:      "SQLITE_ABORT",
	sqlite3.SQLITE_BUSY:       "SQLITE_BUSY",
	sqlite3.SQLITE_LOCKED:     "SQLITE_LOCKED",
	sqlite3.SQLITE_NOMEM:      "SQLITE_NOMEM",
	sqlite3.SQLITE_READONLY:   "SQLITE_READONLY",
	sqlite3.SQLITE_INTERRUPT:  "SQLITE_INTERRUPT",
	sqlite3.SQLITE_FULL:       "SQLITE_FULL",
	sqlite3.SQLITE_TOOBIG:     "SQLITE_TOOBIG",
	sqlite3.SQLITE_CONSTRAINT: "SQLITE_CONSTRAINT",
	sqlite3.SQLITE_MISMATCH:   "SQLITE_MISMATCH",
	sqlite3.SQLITE_MISUSE:     "SQLITE_MISUSE",
	sqlite3.SQLITE_AUTH:       "SQLITE_AUTH",
	sqlite3.SQLITE_RANGE:      "SQLITE_RANGE",
}

// splitSQL splits a string of SQL into its statements the way SQLite's
// sqlite3_complete finds where one ends: at a semicolon outside string
// literals, quoted identifiers and comments, and inside CREATE TRIGGER only
// at a semicolon after END. Empty statements are dropped.
func splitSQL(s string) []string {
	var out []string
	start := 0
	var words []string // the first three words of the statement, upper-cased
	lastWord := ""
	hasToken := false
	emit := func(end int) {
		if hasToken {
			out = append(out, strings.TrimSpace(s[start:end]))
		}
		start, words, lastWord, hasToken = end+1, nil, "", false
	}
	inTrigger := func() bool {
		if len(words) < 2 || words[0] != "CREATE" {
			return false
		}
		return words[1] == "TRIGGER" || len(words) >= 3 && (words[1] == "TEMP" || words[1] == "TEMPORARY") && words[2] == "TRIGGER"
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			if j := strings.Index(s[i+2:], "*/"); j < 0 {
				i = len(s)
			} else {
				i += j + 4
			}
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			j := i + 1
			for j < len(s) {
				if s[j] == closer {
					if closer != ']' && j+1 < len(s) && s[j+1] == closer {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
			hasToken, lastWord = true, ""
		case c == ';':
			if inTrigger() && lastWord != "END" {
				i++
				lastWord = ""
				continue
			}
			emit(i)
			i++
		case isSQLWordByte(c):
			j := i
			for j < len(s) && isSQLWordByte(s[j]) {
				j++
			}
			w := strings.ToUpper(s[i:j])
			if len(words) < 3 {
				words = append(words, w)
			}
			lastWord, hasToken = w, true
			i = j
		default:
			i++
			hasToken, lastWord = true, ""
		}
	}
	emit(len(s))
	return out
}

func isSQLWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
