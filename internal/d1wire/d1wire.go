// Package d1wire decodes the results of a D1 query as D1's HTTP API answers
// them (POST …/raw: columns, rows of JSON values, meta), which Cloudflare
// and wrangler dev's Local Explorer both speak: one reading of that wire
// format for the cloudflare and wrangler backends.
package d1wire

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Statement is the result of one statement. Decode it with a decoder that
// uses json.Number, so that an integer keeps all its digits.
type Statement struct {
	Success *bool `json:"success"`
	Results struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	} `json:"results"`
	Meta struct {
		Changes     json.Number `json:"changes"`
		LastRowID   json.Number `json:"last_row_id"`
		RowsRead    json.Number `json:"rows_read"`
		RowsWritten json.Number `json:"rows_written"`
		Duration    json.Number `json:"duration"` // milliseconds
	} `json:"meta"`
}

// Decode types the results of a query, keeping at most maxRows rows of
// each (all when 0). A statement that failed is the caller's
// invalid_argument; where says where it ran, for that error (" on D1").
func Decode(stmts []Statement, maxRows int, where string) ([]storage.QueryResult, error) {
	out := make([]storage.QueryResult, 0, len(stmts))
	for i, r := range stmts {
		if r.Success != nil && !*r.Success {
			return nil, storage.Errorf(storage.CodeInvalidArgument, "sql: statement %d failed%s; nothing was changed", i, where)
		}
		res := storage.QueryResult{Columns: r.Results.Columns, Rows: [][]any{}, RowCount: len(r.Results.Rows)}
		if res.Columns == nil {
			res.Columns = []string{}
		}
		for _, row := range r.Results.Rows {
			if maxRows > 0 && len(res.Rows) >= maxRows {
				break
			}
			vals := make([]any, len(row))
			for j, v := range row {
				vals[j] = Value(v)
			}
			res.Rows = append(res.Rows, vals)
		}
		res.Meta = storage.QueryMeta{
			Changes:     Int(r.Meta.Changes),
			LastRowID:   Int(r.Meta.LastRowID),
			RowsRead:    Int(r.Meta.RowsRead),
			RowsWritten: Int(r.Meta.RowsWritten),
		}
		if ms, err := r.Meta.Duration.Float64(); err == nil && ms > 0 && ms < math.MaxInt64/float64(time.Millisecond) {
			res.Meta.Duration = time.Duration(ms * float64(time.Millisecond))
		}
		out = append(out, res)
	}
	return out, nil
}

// Value types one value of a row: int64, float64, string, []byte (D1's
// array of byte values) or nil; anything else (an object) as its JSON text.
func Value(v any) any {
	switch x := v.(type) {
	case nil, string:
		return x
	case json.Number:
		return number(x)
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case []any:
		if b, ok := byteArray(x); ok {
			return b
		}
	}
	js, _ := json.Marshal(v)
	return string(js)
}

// number is an int64 when n is an integer that fits, else a float64.
func number(n json.Number) any {
	if !strings.ContainsAny(string(n), ".eE") {
		if i, err := n.Int64(); err == nil {
			return i
		}
	}
	if f, err := n.Float64(); err == nil {
		return f
	}
	return string(n)
}

// byteArray reads an array of byte values, D1's form of a blob.
func byteArray(a []any) ([]byte, bool) {
	b := make([]byte, len(a))
	for i, v := range a {
		n, ok := v.(json.Number)
		if !ok {
			return nil, false
		}
		x, err := strconv.ParseUint(string(n), 10, 8)
		if err != nil {
			return nil, false
		}
		b[i] = byte(x)
	}
	return b, true
}

// Int reads a count of meta: an integer, or a float that fits in an int64
// (truncated); 0 for anything else.
func Int(n json.Number) int64 {
	switch v := number(n).(type) {
	case int64:
		return v
	case float64:
		if v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v)
		}
	}
	return 0
}
