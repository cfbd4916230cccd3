package cf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/d1wire"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// d1Store is D1 over Cloudflare's REST API. storage.Guard has checked every
// argument against D1's limits before a call gets here.
//
// Queries go to POST …/d1/database/{id}/raw, not …/query: /raw answers each
// statement with its columns, in order, and its rows as arrays, so a result
// keeps the order of the SELECT list, keeps two columns of the same name,
// and names its columns even when it has no rows; /query gives each row as
// a JSON object, which has none of these.
//
// On the wire (JSON both ways, as D1's HTTP API takes and gives it): bound
// parameters are a JSON array, never spliced into the SQL: null, true and
// false (D1 stores 1 and 0), numbers (an integer with all its digits, a
// float64 always with a fraction or exponent so that it binds as REAL),
// strings, and a blob as an array of byte values, the form D1 gives blobs
// back in. Values read back are typed the same way: an integral number is
// an int64, any other a float64, an array of byte values a []byte.
//
// Read-only (QueryOptions.ReadOnly) cannot be left to D1, which has no
// read-only mode for the HTTP API: each statement is classified by
// storage.ClassifySQL before anything is sent, and the batch is refused with
// ErrReadOnly unless every statement only reads.
type d1Store struct{ b *Backend }

var _ storage.D1 = (*d1Store)(nil)

func (s *d1Store) api() *d1.DatabaseService { return s.b.rest.databases }

// d1PerPage is the largest page of databases Cloudflare serves (per_page
// 10..10000 in the reference spec): an account's databases in a request or
// few.
const d1PerPage = 10_000

// maxD1ListPages bounds a listing: 50,000 databases, five times the most an
// account can have, so that a server that keeps answering full pages cannot
// keep the loop going.
const maxD1ListPages = 50

// ListDatabases reads every database whose name has the prefix, sorts them
// by name and returns those after the cursor, which is the last name of the
// previous page. Cloudflare's `name` parameter searches names: it narrows
// the listing, and the prefix is then applied here. Cloudflare's order and
// page numbers are not relied on: a database created or deleted between
// two pages shifts nothing.
func (s *d1Store) ListDatabases(ctx context.Context, opts storage.ListOptions) (storage.DatabasePage, error) {
	c := call{op: "listing D1 databases", area: areaD1}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.DatabasePage{}, err
	}
	after, err := decodeD1Cursor(opts.Cursor)
	if err != nil {
		return storage.DatabasePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultDatabaseList, storage.MaxDatabaseList)
	var all []storage.Database
	for page := 1; ; page++ {
		if page > maxD1ListPages {
			return storage.DatabasePage{}, storage.Errorf(storage.CodeUnavailable,
				"cloudflare: %s: Cloudflare answered more than %d full pages; try again later", c.op, maxD1ListPages)
		}
		var p d1.DatabaseListParams
		p.AccountID.Value, p.AccountID.Present = acct, true
		p.Page.Value, p.Page.Present = float64(page), true
		p.PerPage.Value, p.PerPage.Present = d1PerPage, true
		if opts.Prefix != "" {
			p.Name.Value, p.Name.Present = opts.Prefix, true
		}
		res, err := s.api().List(ctx, p)
		if err != nil {
			return storage.DatabasePage{}, c.fail(ctx, err)
		}
		for _, db := range res.Result {
			if strings.HasPrefix(db.Name, opts.Prefix) && db.Name > after {
				all = append(all, storage.Database{ID: db.UUID, Name: db.Name, CreatedAt: db.CreatedAt})
			}
		}
		if len(res.Result) < d1PerPage {
			break
		}
	}
	slices.SortFunc(all, func(a, b storage.Database) int { return strings.Compare(a.Name, b.Name) })
	all = slices.CompactFunc(all, func(a, b storage.Database) bool { return a.ID == b.ID })
	out := storage.DatabasePage{Databases: all}
	if out.Databases == nil {
		out.Databases = []storage.Database{}
	}
	if len(all) > limit {
		out.Databases = all[:limit:limit]
		out.Cursor = encodeD1Cursor(all[limit-1].Name)
	}
	return out, nil
}

// d1Cursor is the position of a database listing: the last name returned.
// As a cursor (storage.EncodeCursor) a cursor of another listing, which has
// no name, is refused.
type d1Cursor struct {
	After string `json:"db"`
}

func encodeD1Cursor(name string) string { return storage.EncodeCursor(d1Cursor{After: name}) }

func decodeD1Cursor(cursor string) (string, error) {
	c, err := storage.DecodeCursor(cursor, func(c d1Cursor) bool { return c.After != "" })
	return c.After, err
}

func (s *d1Store) GetDatabase(ctx context.Context, id string) (storage.Database, error) {
	c := call{op: "reading D1 database", area: areaD1, database: id}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.Database{}, err
	}
	var p d1.DatabaseGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	res, err := s.api().Get(ctx, seg(id), p)
	if err != nil {
		return storage.Database{}, c.fail(ctx, err)
	}
	return database(res), nil
}

func database(r *d1.D1) storage.Database {
	return storage.Database{
		ID:        r.UUID,
		Name:      r.Name,
		CreatedAt: r.CreatedAt,
		FileSize:  int64(r.FileSize),
		NumTables: int(r.NumTables),
	}
}

func (s *d1Store) CreateDatabase(ctx context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	c := call{op: "creating D1 database", area: areaD1, write: true, dbName: spec.Name}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.Database{}, err
	}
	var p d1.DatabaseNewParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Name.Value, p.Name.Present = spec.Name, true
	if spec.PrimaryLocationHint != "" {
		p.PrimaryLocationHint.Value, p.PrimaryLocationHint.Present = d1.DatabaseNewParamsPrimaryLocationHint(spec.PrimaryLocationHint), true
	}
	if spec.Jurisdiction != "" {
		p.Jurisdiction.Value, p.Jurisdiction.Present = d1.DatabaseNewParamsJurisdiction(spec.Jurisdiction), true
	}
	res, err := s.api().New(ctx, p)
	if err != nil {
		return storage.Database{}, c.fail(ctx, err)
	}
	db := database(res)
	if db.Name == "" {
		db.Name = spec.Name
	}
	return db, nil
}

func (s *d1Store) DeleteDatabase(ctx context.Context, id string) error {
	c := call{op: "deleting D1 database", area: areaD1, write: true, database: id}
	acct, err := s.b.account(ctx)
	if err != nil {
		return err
	}
	var p d1.DatabaseDeleteParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	dctx, tries := withAttempts(ctx)
	_, err = s.api().Delete(dctx, seg(id), p)
	return c.failDelete(ctx, tries, err)
}

// Query sends the batch in one request, which D1 runs in one transaction,
// in the first of these forms that can carry it:
//
//   - one statement: {"sql", "params"}, the reference spec's body;
//   - several, none with parameters: their statements joined into one
//     "sql", which D1 runs as a batch, one result per statement (the
//     reference spec's body too; the join is used only when the joined text
//     splits back into exactly the same statements);
//   - otherwise: {"batch": [{"sql", "params"}, ...]}, D1's batch body (in
//     cloudflare-go v7 as DatabaseQueryParamsBodyMultipleQueries; not in the
//     reference spec).
func (s *d1Store) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	c := call{op: "querying D1 database", area: areaD1, write: !opts.ReadOnly, database: id, sql: true}
	for i, st := range stmts {
		if what := storage.NeverAllowedOnD1(st.SQL); what != "" {
			return nil, storage.Errorf(storage.CodeInvalidArgument, "%s: %s is not allowed on D1; nothing was changed", stmtWhere(i, len(stmts)), what)
		}
	}
	wire, err := wireBatch(stmts)
	if err != nil {
		return nil, err
	}
	if opts.ReadOnly {
		if err := storage.CheckReadOnlySQL(stmts); err != nil {
			return nil, err
		}
		// What is sent is classified too: a join must not change what
		// the statements are.
		if err := storage.CheckReadOnlySQL(wire); err != nil {
			return nil, err
		}
		// Only reads: safe to send again after a 5xx.
		ctx = withIdempotent(ctx)
	}
	body, err := queryBody(wire)
	if err != nil {
		return nil, err
	}
	acct, err := s.b.account(ctx)
	if err != nil {
		return nil, err
	}
	var p d1.DatabaseRawParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	var raw []byte
	_, err = s.api().Raw(ctx, seg(id), p,
		option.WithRequestBody("application/json", body), option.WithResponseBodyInto(&raw))
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	return decodeRawResults(raw, opts.MaxRows)
}

func stmtWhere(i, n int) string {
	if n > 1 {
		return fmt.Sprintf("statements[%d]", i)
	}
	return "sql"
}

// wireBatch is the batch as it is sent: several statements without
// parameters become one, joined, when the join splits back into the same
// statements.
func wireBatch(stmts []storage.Statement) ([]storage.Statement, error) {
	if len(stmts) < 2 {
		return stmts, nil
	}
	var parts []string
	for _, st := range stmts {
		if len(st.Params) > 0 {
			return stmts, nil
		}
		p, _, _ := storage.ClassifySQL(st.SQL)
		parts = append(parts, p...)
	}
	if len(parts) == 0 {
		return stmts, nil
	}
	// A line break before each semicolon ends a trailing -- comment.
	joined := strings.Join(parts, "\n;\n")
	if again, _, _ := storage.ClassifySQL(joined); !slices.Equal(again, parts) {
		return stmts, nil // an unterminated quote or comment would swallow the rest
	}
	if len(joined) > storage.MaxD1StatementBytes {
		return stmts, nil
	}
	return []storage.Statement{{SQL: joined}}, nil
}

// wireStatement is one statement of a D1 query body.
type wireStatement struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params,omitempty"`
}

// queryBody is the JSON body of a D1 query.
func queryBody(stmts []storage.Statement) ([]byte, error) {
	batch := make([]wireStatement, len(stmts))
	for i, st := range stmts {
		params, err := wireParams(st.Params)
		if err != nil {
			return nil, prefixErr(stmtWhere(i, len(stmts)), err)
		}
		batch[i] = wireStatement{SQL: st.SQL, Params: params}
	}
	if len(batch) == 1 {
		return json.Marshal(batch[0])
	}
	return json.Marshal(struct {
		Batch []wireStatement `json:"batch"`
	}{batch})
}

func prefixErr(where string, err error) error {
	var se *storage.Error
	if where == "sql" || !errors.As(err, &se) {
		return err
	}
	return storage.Errorf(se.Code, "%s: %s", where, se.Message)
}

// wireParams are the bound parameters as D1 takes them in JSON.
func wireParams(params []any) ([]any, error) {
	if len(params) == 0 {
		return nil, nil
	}
	out := make([]any, len(params))
	for i, p := range params {
		switch v := p.(type) {
		case nil, bool, string:
			out[i] = v
		case int:
			out[i] = json.Number(strconv.FormatInt(int64(v), 10))
		case int64:
			out[i] = json.Number(strconv.FormatInt(v, 10))
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, storage.Errorf(storage.CodeInvalidArgument, "params[%d]: %v is not a number D1 can store", i, v)
			}
			out[i] = json.Number(floatText(v))
		case []byte:
			bs := make([]int, len(v))
			for j, b := range v {
				bs[j] = int(b)
			}
			out[i] = bs
		default:
			return nil, storage.Errorf(storage.CodeInvalidArgument,
				"params[%d]: a %T cannot be bound; use null, a boolean, a number, a string or bytes", i, p)
		}
	}
	return out, nil
}

// floatText writes f so that it reads back as a float: with a fraction or
// an exponent, never as an integer.
func floatText(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") { // n: NaN and Inf are refused before
		s += ".0"
	}
	return s
}

// rawEnvelope is the answer of POST …/raw.
type rawEnvelope struct {
	Success bool               `json:"success"`
	Result  []d1wire.Statement `json:"result"`
	Errors  json.RawMessage    `json:"errors"`
}

// decodeRawResults types the results of a query; numbers are read as they
// were written, so that an integer keeps all its digits.
func decodeRawResults(raw []byte, maxRows int) ([]storage.QueryResult, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var env rawEnvelope
	if err := dec.Decode(&env); err != nil {
		return nil, storage.Errorf(storage.CodeInternal, "cloudflare: D1 query: the answer is not D1's JSON: %v", err)
	}
	if !env.Success {
		return nil, storage.Errorf(storage.CodeInvalidArgument, "sql: D1 did not run the query (%s); nothing was changed", clip(string(env.Errors), 200))
	}
	return d1wire.Decode(env.Result, maxRows, " on D1")
}
