package tools

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

type liftIn struct {
	Name  string          `json:"name" jsonschema:"required text"`
	Text  *string         `json:"text,omitempty" jsonschema:"optional text"`
	Mode  string          `json:"mode,omitempty" schema:"enum=a|b"`
	Short string          `json:"short,omitempty" schema:"maxLength=3"`
	N     int64           `json:"n,omitempty"`
	Meta  json.RawMessage `json:"meta,omitempty"`
	Items []struct {
		Name string `json:"name"`
	} `json:"items,omitempty"`
}

// Lifting string arguments out of bind's JSON round trip changes nothing
// but the copies: for every request, in both forms a request takes, bind
// gives the same arguments or the same error as the plain round trip.
func TestLiftingBindsAsTheRoundTrip(t *testing.T) {
	in, _, err := deriveSchemas[liftIn, struct{}]()
	if err != nil {
		t.Fatal(err)
	}
	lifting := &call[liftIn, struct{}]{name: "lift", rawIn: in}
	plain := &call[liftIn, struct{}]{name: "plain", rawIn: in}
	if err := plain.prepare(); err != nil {
		t.Fatal(err)
	}
	plain.lift = nil
	if err := lifting.prepare(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"name", "text"}; !reflect.DeepEqual(slices.Sorted(maps.Keys(lifting.lift)), want) {
		t.Fatalf("liftable = %v, want %v (not mode, with an enum; not short, with a maxLength)", slices.Sorted(maps.Keys(lifting.lift)), want)
	}
	for _, args := range []string{
		`{"name": "x"}`,
		`{"name": "a\"b\\c\u00e9\ud83d\ude00/", "text": "t"}`,
		` { "name" : "x" , "text" : "" , "n" : 9007199254740993 } `,
		`{"text": "no name"}`,
		`{"name": 7}`,
		`{"name": null}`,
		`{"name": "x", "text": null}`,
		`{"name": "x", "mode": "c"}`,
		`{"name": "x", "short": "four"}`,
		`{"name": "x", "other": "y"}`,
		`{"name": "x", "name": "y"}`,
		`{"nam\u0065": "escaped name"}`,
		`{"meta": {"name": "inner", "text": ["a", "}"]}, "name": "outer", "items": [{"name": "i"}]}`,
		`{"name": "x", "meta": "a string"}`,
		`[]`,
		`"name"`,
		`null`,
		`{}`,
	} {
		for _, form := range []string{"json-rpc", "go"} {
			var req mcp.CallToolRequest
			if form == "json-rpc" {
				if err := json.Unmarshal([]byte(`{"name": "t", "arguments": `+args+`}`), &req.Params); err != nil {
					t.Fatalf("%s: %v", args, err)
				}
			} else if err := json.Unmarshal([]byte(args), &req.Params.Arguments); err != nil {
				t.Fatalf("%s: %v", args, err)
			}
			got, gotErr := lifting.bind(req)
			want, wantErr := plain.bind(req)
			if !reflect.DeepEqual(got, want) || errText(gotErr) != errText(wantErr) {
				t.Errorf("%s (%s): lifting binds %+v, %v; the round trip %+v, %v", args, form, got, gotErr, want, wantErr)
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
