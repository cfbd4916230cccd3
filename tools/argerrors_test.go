package tools_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/mcptest"
)

// refusal is one call that breaks one keyword of a tool's input schema, and
// what its error must say.
type refusal struct {
	tool, name string
	args       map[string]any
	code       string
	field      string   // the field the message must name
	mentions   []string // the value given, the limit, the fix
}

// Every refusal the input schemas make is a sentence that starts with the
// code, names the field, quotes the value given and states the limit or
// what to give, in our words: never the validator's ("got", "want",
// "jsonschema"). The cases are derived from each tool's own schema, so a
// new argument or bound is covered without editing this test.
func TestSchemaRefusalsSaySomethingToChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	var cases []refusal
	for _, name := range slices.Sorted(maps.Keys(h.Tools)) {
		raw, err := json.Marshal(h.Tools[name].InputSchema)
		if len(h.Tools[name].RawInputSchema) > 0 {
			raw, err = h.Tools[name].RawInputSchema, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		var schema map[string]any
		if err := json.Unmarshal(raw, &schema); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cases = append(cases, refusalsOf(name, schema)...)
	}
	if len(cases) < 100 {
		t.Fatalf("only %d refusals derived from the schemas; the derivation is broken", len(cases))
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.tool+"/"+c.name, func(t *testing.T) {
			text := h.Fail(c.tool, c.args, c.code)
			seen[c.name[:strings.IndexByte(c.name+" ", ' ')]] = true
			for _, want := range append([]string{c.field}, c.mentions...) {
				if !strings.Contains(text, want) {
					t.Errorf("%s(%v): %q does not mention %q", c.tool, c.args, text, want)
				}
			}
			for _, jargon := range []string{"got ", "want ", "jsonschema", "mem:///", "validation failed", "property '"} {
				if strings.Contains(text, jargon) {
					t.Errorf("%s(%v): %q speaks the validator's language (%q)", c.tool, c.args, text, jargon)
				}
			}
		})
	}
	for _, k := range []string{"missing", "unknown", "type", "minimum", "maximum", "enum", "minItems", "maxItems"} {
		if !seen[k] {
			t.Errorf("no tool schema gave a %s refusal; the test covers less than it claims", k)
		}
	}
}

// TestSchemaRefusalExamples pins the wording of the refusals the issue and
// the README quote.
func TestSchemaRefusalExamples(t *testing.T) {
	t.Parallel()
	h := newHarness(t, setup{})
	// confirm is optional in the schema (a client with elicitation asks its
	// user instead); without elicitation its absence is refused by the tool.
	h.OK("create_r2_bucket", map[string]any{"name": "photos"})
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"kv_put", map[string]any{"namespace": "n", "key": "k", "value": "v", "expiration_ttl": 10},
			"invalid_argument: expiration_ttl: 10 is below the minimum of 60; give 60 or more"},
		{"delete_r2_bucket", map[string]any{"bucket": "photos"},
			`invalid_argument: confirm: must equal the R2 bucket name "photos" to delete it`},
		{"kv_list", map[string]any{"namespace": "n", "limit": "abc"},
			`invalid_argument: limit: "abc" is a string; give an integer`},
		{"r2_download", map[string]any{"bucket": "b", "key": "k", "encoding": "hex"},
			`invalid_argument: encoding: "hex" is not one of "auto", "text", "base64"`},
		{"kv_put", map[string]any{"namespace": "n", "key": "k", "valu": "x"},
			"invalid_argument: valu: not allowed; the arguments here are expiration, expiration_ttl, file_path, key, metadata, namespace, value, value_base64 (check the spelling)"},
	} {
		if got := h.Fail(c.tool, c.args, "invalid_argument"); !strings.HasPrefix(got, c.want) {
			t.Errorf("%s(%v) =\n  %q\nwant it to start with\n  %q", c.tool, c.args, got, c.want)
		}
	}
}

// refusalsOf derives, from a tool's input schema, one call per keyword that
// can be broken: each required argument left out, an unknown argument, a
// value of the wrong type for each argument, and each bound crossed.
func refusalsOf(tool string, schema map[string]any) []refusal {
	base := validArgs(schema)
	with := func(field string, v any) map[string]any {
		args := maps.Clone(base)
		args[field] = v
		return args
	}
	var out []refusal
	add := func(name string, args map[string]any, field string, mentions ...string) {
		out = append(out, refusal{tool: tool, name: name, args: args, code: "invalid_argument", field: field, mentions: mentions})
	}
	for _, req := range strings2(schema["required"]) {
		args := maps.Clone(base)
		delete(args, req)
		add("missing "+req, args, req, "missing")
	}
	add("unknown argument", with("zz_unknown", 1), "zz_unknown", "not allowed")
	props, _ := schema["properties"].(map[string]any)
	for _, field := range slices.Sorted(maps.Keys(props)) {
		p := props[field].(map[string]any)
		types := strings2(p["type"])
		if t, ok := p["type"].(string); ok {
			types = []string{t}
		}
		if len(types) > 0 {
			wrong, quoted := any(true), "true"
			if slices.Contains(types, "boolean") {
				wrong, quoted = "yes", `"yes"`
			}
			add("type of "+field, with(field, wrong), field, quoted, types[len(types)-1])
		}
		if m, ok := p["minimum"].(float64); ok {
			add("minimum of "+field, with(field, m-1), field, fmt.Sprint(m-1), fmt.Sprint(m))
		}
		if m, ok := p["maximum"].(float64); ok {
			add("maximum of "+field, with(field, m+1), field, fmt.Sprint(m+1), fmt.Sprint(m))
		}
		if e, ok := p["enum"].([]any); ok {
			mentions := []string{`"not-a-choice"`}
			for _, v := range e {
				mentions = append(mentions, fmt.Sprintf("%q", v))
			}
			add("enum of "+field, with(field, "not-a-choice"), field, mentions...)
		}
		if m, ok := p["minItems"].(float64); ok && m > 0 {
			add("minItems of "+field, with(field, itemsOf(p, int(m)-1)), field, fmt.Sprint(m-1), fmt.Sprint(m))
		}
		if m, ok := p["maxItems"].(float64); ok {
			r := refusal{tool: tool, name: "maxItems of " + field, args: with(field, itemsOf(p, int(m)+1)),
				code: "too_large", field: field, mentions: []string{fmt.Sprint(m + 1), fmt.Sprint(m)}}
			out = append(out, r)
		}
		// A list of objects: the same refusals one level down, named
		// "entries[0].key".
		if items, ok := p["items"].(map[string]any); ok && items["type"] == "object" {
			for _, r := range refusalsOf(tool, items) {
				if r.name == "unknown argument" {
					r.name = "unknown field"
				}
				elem := r.args
				r.args = with(field, []any{elem})
				r.field = field + "[0]." + r.field
				r.name += " in " + field
				out = append(out, r)
			}
		}
	}
	return out
}

// validArgs gives every required argument a value its schema accepts.
func validArgs(schema map[string]any) map[string]any {
	props, _ := schema["properties"].(map[string]any)
	args := map[string]any{}
	for _, req := range strings2(schema["required"]) {
		p, _ := props[req].(map[string]any)
		args[req] = validValue(p)
	}
	return args
}

func validValue(p map[string]any) any {
	t, _ := p["type"].(string)
	if ts := strings2(p["type"]); len(ts) > 0 {
		t = ts[len(ts)-1]
	}
	switch {
	case p["enum"] != nil:
		return p["enum"].([]any)[0]
	case t == "integer" || t == "number":
		if m, ok := p["minimum"].(float64); ok {
			return m
		}
		return 1
	case t == "boolean":
		return true
	case t == "array":
		n := 1
		if m, ok := p["minItems"].(float64); ok {
			n = max(n, int(m))
		}
		return itemsOf(p, n)
	case t == "object":
		return validArgs(p)
	}
	return "x"
}

// itemsOf is a list of n valid items of an array schema.
func itemsOf(p map[string]any, n int) []any {
	items, _ := p["items"].(map[string]any)
	list := make([]any, n)
	for i := range list {
		v := validValue(items)
		if s, ok := v.(string); ok {
			v = fmt.Sprintf("%s%d", s, i) // distinct, for uniqueItems
		}
		list[i] = v
	}
	return list
}

func strings2(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, s := range list {
		if s, ok := s.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var _ = mcptest.Text
