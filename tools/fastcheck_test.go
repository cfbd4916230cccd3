package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"

	validator "github.com/santhosh-tekuri/jsonschema/v6"
)

// validates reports whether the schema validator accepts args.
func validates(t testing.TB, sch *validator.Schema, args []byte) bool {
	t.Helper()
	doc, err := validator.UnmarshalJSON(bytes.NewReader(args))
	return err == nil && sch.Validate(doc) == nil
}

// fastChecked compiles a tool's input schema both ways.
func fastChecked(t testing.TB, name string) (*validator.Schema, *fastCheck) {
	t.Helper()
	raw := []byte(generatedSchemas[name].in)
	sch, err := compile(name, raw)
	if err != nil {
		t.Fatal(err)
	}
	return sch, newFastCheck(raw)
}

// fastValues are JSON values to try for a property: the usual and the
// edge cases of every kind, and those of its own schema.
func fastValues(p fastProp) []string {
	vals := []string{`"x"`, `""`, `"a\"b"`, `"\u00e9\\"`, `"é"`, `true`, `false`, `null`,
		`0`, `-0`, `00`, `-1`, `1`, `1.0`, `1.5`, `1e2`, `-`, `9223372036854775807`, `-9223372036854775808`,
		`99999999999999999999`, `999999999999999999`, `18446744073709551617`, `-18446744073709551615`, `[]`, `{}`, `["x"]`, `{"a":1}`, ` "x" `}
	for _, e := range p.enum {
		q, _ := json.Marshal(e)
		vals = append(vals, string(q), strconv.Quote(e+"x"), strconv.Quote(" "+e))
	}
	for _, bound := range []struct {
		has bool
		n   int64
	}{{p.hasMin, p.minimum}, {p.hasMax, p.maximum}} {
		if bound.has {
			vals = append(vals, fmt.Sprint(bound.n-1), fmt.Sprint(bound.n), fmt.Sprint(bound.n+1), fmt.Sprint(bound.n)+".0")
		}
	}
	return vals
}

// sample is a value that plainly meets p, or "" when there is none.
func (p fastProp) sample() string {
	switch p.kind {
	case fastString:
		return `"x"`
	case fastEnum:
		q, _ := json.Marshal(p.enum[0])
		return string(q)
	case fastBool:
		return "true"
	case fastInt:
		switch {
		case p.hasMin:
			return fmt.Sprint(p.minimum)
		case p.hasMax:
			return fmt.Sprint(p.maximum)
		}
		return "1"
	}
	return ""
}

// object writes members as a JSON object, in order.
func object(members ...[2]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		q, _ := json.Marshal(m[0])
		b.Write(q)
		b.WriteByte(':')
		b.WriteString(m[1])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// fastCheck accepts only arguments the validator accepts, for every tool,
// over arguments that try each property with values of every kind and at
// its edges, unknown and repeated members and what is not an object; and
// it does accept the plain calls, so that it is used: the required
// arguments alone, and with each optional one.
func TestFastCheckAgreesWithValidator(t *testing.T) {
	var fast int
	for _, name := range slices.Sorted(maps.Keys(generatedSchemas)) {
		sch, fc := fastChecked(t, name)
		if fc == nil {
			continue
		}
		fast++
		names := slices.Sorted(maps.Keys(fc.props))
		var required [][2]string // the required members, each with a plain value
		plain := true
		for _, n := range names {
			if p := fc.props[n]; fc.required&p.bit != 0 {
				required = append(required, [2]string{n, p.sample()})
				plain = plain && p.kind != fastOther
			}
		}
		docs := [][]byte{[]byte(`{}`), []byte(`[]`), []byte(`"x"`), []byte(`null`), []byte(`{"unknown":"x"}`),
			[]byte(` { } `), []byte(`{`), []byte(`{}x`)}
		try := func(doc []byte, mustAccept bool) {
			if fc.accepts(doc) && !validates(t, sch, doc) {
				t.Errorf("%s: fastCheck accepts %s, which the validator refuses", name, doc)
			}
			if mustAccept && !fc.accepts(doc) {
				t.Errorf("%s: fastCheck leaves %s to the validator", name, doc)
			}
		}
		for _, doc := range docs {
			try(doc, false)
		}
		try(object(required...), plain)
		try(object(append(required, [2]string{"unknown", `"x"`})...), false)
		if len(required) > 0 {
			try(object(append(required, required[0])...), false)                            // a member twice
			try(bytes.ReplaceAll(object(required...), []byte(`":`), []byte(`" : `)), plain) // spaces
			try(object(required[1:]...), false)                                             // one missing
		}
		for _, n := range names {
			p := fc.props[n]
			base := slices.DeleteFunc(slices.Clone(required), func(m [2]string) bool { return m[0] == n })
			if s := p.sample(); s != "" {
				try(object(append(base, [2]string{n, s})...), plain)
			}
			for _, v := range fastValues(p) {
				try(object(append(base, [2]string{n, v})...), false)
			}
		}
	}
	if fast < len(generatedSchemas)/2 {
		t.Errorf("fastCheck knows the input schemas of %d tools of %d", fast, len(generatedSchemas))
	}
}

// fastCheck only ever accepts what the validator accepts, whatever the
// arguments.
//
//	go test ./tools -run '^$' -fuzz FuzzFastCheck -fuzztime 60s
func FuzzFastCheck(f *testing.F) {
	tools := []string{"kv_get", "kv_put", "kv_list", "r2_download", "list_kv_namespaces"}
	for _, seed := range []string{
		`{"namespace":"n","key":"k"}`, `{"namespace":"n","key":"k","encoding":"json"}`,
		`{"namespace":"n","key":"k","expiration_ttl":60}`, `{"namespace":"n","limit":1000}`,
		`{"bucket":"b","key":"k","range_start":0}`, `{"limit":0}`, `{"namespace":"n","key":"k","overwrite":true}`,
	} {
		for i := range tools {
			f.Add(uint8(i), []byte(seed))
		}
	}
	type checked struct {
		sch *validator.Schema
		fc  *fastCheck
	}
	schemas := make([]checked, len(tools))
	for i, name := range tools {
		sch, fc := fastChecked(f, name)
		if fc == nil {
			f.Fatalf("%s: no fastCheck", name)
		}
		schemas[i] = checked{sch, fc}
	}
	f.Fuzz(func(t *testing.T, tool uint8, args []byte) {
		c := schemas[int(tool)%len(schemas)]
		if c.fc.accepts(args) && !validates(t, c.sch, args) {
			t.Errorf("%s: fastCheck accepts %s, which the validator refuses", tools[int(tool)%len(tools)], args)
		}
	})
}
