package d1wire_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/d1wire"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func decode(t *testing.T, s string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestValue(t *testing.T) {
	for _, c := range []struct {
		in   string
		want any
	}{
		{`1`, int64(1)}, {`-9223372036854775808`, int64(-9223372036854775808)}, {`1.0`, 1.0}, {`1e3`, 1000.0},
		{`18446744073709551616`, 18446744073709551616.0}, {`"s"`, "s"}, {`null`, nil}, {`true`, int64(1)},
		{`[104,105]`, []byte("hi")}, {`[]`, []byte{}}, {`[256]`, "[256]"}, {`{"a":1}`, `{"a":1}`},
	} {
		var v any
		decode(t, c.in, &v)
		if got := d1wire.Value(v); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Value(%s) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

// TestInt: a count that is a float out of int64's range is 0, not
// whatever a conversion makes of it (the explorer's copy converted 1e20).
func TestInt(t *testing.T) {
	for in, want := range map[string]int64{"7": 7, "7.9": 7, "1e3": 1000, "1e20": 0, "-1e20": 0, "9223372036854775808": 0, "": 0, "x": 0} {
		if got := d1wire.Int(json.Number(in)); got != want {
			t.Errorf("Int(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	var stmts []d1wire.Statement
	decode(t, `[{"success":true,"results":{"columns":["a","b"],"rows":[[1,"x"],[2.5,null],[[104],true]]},
		"meta":{"changes":1,"last_row_id":9007199254740993,"rows_read":3,"rows_written":0,"duration":1.5}},
		{"results":{}}]`, &stmts)
	got, err := d1wire.Decode(stmts, 2, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []storage.QueryResult{
		{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), "x"}, {2.5, nil}}, RowCount: 3,
			Meta: storage.QueryMeta{Changes: 1, LastRowID: 9007199254740993, RowsRead: 3, Duration: 1500 * time.Microsecond}},
		{Columns: []string{}, Rows: [][]any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode = %#v\nwant %#v", got, want)
	}
	decode(t, `[{"success":true},{"success":false}]`, &stmts)
	if _, err := d1wire.Decode(stmts, 0, " on D1"); !errors.Is(err, storage.ErrInvalidArgument) || !strings.Contains(err.Error(), "statement 1 failed on D1") {
		t.Errorf("a failed statement: %v", err)
	}
}
