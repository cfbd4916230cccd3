package explorer

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/d1wire"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// D1Databases lists the databases dev binds: uuid = the dev id, name = the
// binding name.
func (s *Store) D1Databases(ctx context.Context) ([]storage.Database, error) {
	var dbs []struct {
		UUID string `json:"uuid"`
		Name string `json:"name"`
	}
	if err := s.call(ctx, request{method: http.MethodGet, path: "/d1/database", what: "listing D1 databases"}, &dbs, nil); err != nil {
		return nil, err
	}
	out := make([]storage.Database, len(dbs))
	for i, d := range dbs {
		out[i] = storage.Database{ID: d.UUID, Name: d.Name}
	}
	return out, nil
}

// Query runs stmts as one {"batch": [...]}, which dev runs in one
// transaction, one result per statement. A statement without parameters
// whose text holds several is split first: /raw answers only the last
// statement of a multi-statement sql.
func (s *Store) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	type wire struct {
		SQL    string   `json:"sql"`
		Params []string `json:"params,omitempty"`
	}
	var batch []wire
	for i, st := range stmts {
		where := stmtWhere(i, len(stmts))
		if what := storage.NeverAllowedOnD1(st.SQL); what != "" {
			return nil, storage.Errorf(storage.CodeInvalidArgument, "%s: %s is not allowed on D1; nothing was changed", where, what)
		}
		params, err := stringParams(where, st.Params)
		if err != nil {
			return nil, err
		}
		if len(params) == 0 {
			if parts, _, _ := storage.ClassifySQL(st.SQL); len(parts) > 1 {
				for _, p := range parts {
					batch = append(batch, wire{SQL: p})
				}
				continue
			}
		}
		batch = append(batch, wire{SQL: st.SQL, Params: params})
	}
	if opts.ReadOnly {
		if err := storage.CheckReadOnlySQL(stmts); err != nil {
			return nil, err
		}
	}
	body, size, h, err := jsonBody(struct {
		Batch []wire `json:"batch"`
	}{batch})
	if err != nil {
		return nil, err
	}
	var results []d1wire.Statement
	err = s.call(ctx, request{method: http.MethodPost, path: "/d1/database/" + url.PathEscape(id) + "/raw", body: body, size: size, header: h, what: "querying D1 database"}, &results, nil)
	if err != nil {
		// D1 under Miniflare answers a statement that fails with 500 and
		// SQLite's message; a malformed body with 400.
		if msg := err.Error(); storage.CodeOf(err) == storage.CodeInvalidArgument || strings.Contains(msg, "SQLITE_") || strings.Contains(msg, "D1_") {
			_, detail, _ := strings.Cut(msg, "answered ")
			return nil, storage.Errorf(storage.CodeInvalidArgument, "sql: D1 did not run the query (%s); nothing was changed", detail)
		}
		return nil, err
	}
	return d1wire.Decode(results, opts.MaxRows, "")
}

func stmtWhere(i, n int) string {
	if n > 1 {
		return fmt.Sprintf("statements[%d]", i)
	}
	return "sql"
}

// stringParams are the parameters as /raw takes them: strings only (its
// request schema; a number is refused as "Invalid input"). Anything else
// is refused here, with the way out, rather than bound as text, which would
// change what a statement compares and stores.
func stringParams(where string, params []any) ([]string, error) {
	out := make([]string, len(params))
	for i, p := range params {
		s, ok := p.(string)
		if !ok {
			return nil, storage.Errorf(storage.CodeUnsupported,
				"%s: params[%d] is a %s: wrangler dev's Local Explorer (wrangler 4.164.0) binds only string parameters; pass it as a string (a column's type affinity converts it), or stop wrangler dev to query through the persisted files",
				where, i, paramType(p))
		}
		out[i] = s
	}
	return out, nil
}

func paramType(p any) string {
	switch p.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int, int64, float64:
		return "number"
	case []byte:
		return "blob"
	}
	return fmt.Sprintf("%T", p)
}
