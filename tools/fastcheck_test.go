package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
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
	return sch, newFastCheck(raw, nil)
}

// fastValues are JSON values to try for a property: the usual and the
// edge cases of every kind, and those of its own schema.
func fastValues(p fastProp) []string {
	vals := []string{`"x"`, `""`, `"a\"b"`, `"\u00e9\\"`, `"é"`, "\"a\xffb\"", `"\ud800"`, `true`, `false`, `null`,
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

// fastCase is arguments to try, and whether fastCheck must accept them.
type fastCase struct {
	args  []byte
	plain bool
}

// fastCases are arguments for the schema of fc that try each property
// with values of every kind and at its edges, unknown and repeated members
// and what is not an object; and the plain calls, which fastCheck must
// accept: the required arguments alone, and with each optional one.
func fastCases(fc *fastCheck) []fastCase {
	names := slices.Sorted(maps.Keys(fc.props))
	var required [][2]string // the required members, each with a plain value
	plain := true
	for _, n := range names {
		if p := fc.props[n]; fc.required&p.bit != 0 {
			required = append(required, [2]string{n, p.sample()})
			plain = plain && p.kind != fastOther
		}
	}
	var cases []fastCase
	for _, doc := range []string{`{}`, `[]`, `"x"`, `null`, `{"unknown":"x"}`, ` { } `, `{`, `{}x`} {
		cases = append(cases, fastCase{[]byte(doc), false})
	}
	cases = append(cases, fastCase{object(required...), plain},
		fastCase{object(append(required, [2]string{"unknown", `"x"`})...), false})
	if len(required) > 0 {
		cases = append(cases,
			fastCase{object(append(required, required[0])...), false},                            // a member twice
			fastCase{bytes.ReplaceAll(object(required...), []byte(`":`), []byte(`" : `)), plain}, // spaces
			fastCase{object(required[1:]...), false})                                             // one missing
	}
	for _, n := range names {
		p := fc.props[n]
		base := slices.DeleteFunc(slices.Clone(required), func(m [2]string) bool { return m[0] == n })
		if s := p.sample(); s != "" {
			cases = append(cases, fastCase{object(append(base, [2]string{n, s})...), plain})
		}
		for _, v := range fastValues(p) {
			cases = append(cases, fastCase{object(append(base, [2]string{n, v})...), false})
		}
	}
	return cases
}

// fastCheck accepts only arguments the validator accepts, for every tool,
// and does accept the plain calls, so that it is used.
func TestFastCheckAgreesWithValidator(t *testing.T) {
	var fast int
	for _, name := range slices.Sorted(maps.Keys(generatedSchemas)) {
		sch, fc := fastChecked(t, name)
		if fc == nil {
			continue
		}
		fast++
		for _, c := range fastCases(fc) {
			if fc.accepts(c.args) && !validates(t, sch, c.args) {
				t.Errorf("%s: fastCheck accepts %s, which the validator refuses", name, c.args)
			}
			if c.plain && !fc.accepts(c.args) {
				t.Errorf("%s: fastCheck leaves %s to the validator", name, c.args)
			}
		}
	}
	if fast < len(generatedSchemas)/2 {
		t.Errorf("fastCheck knows the input schemas of %d tools of %d", fast, len(generatedSchemas))
	}
}

// fastCheck sets on a tool's arguments what json.Unmarshal would, from the
// JSON alone and with the arguments as the server parsed them; and it does
// set those of the plain calls, for every field they name.
func TestFastCheckDecodesAsJSON(t *testing.T) {
	for name, check := range map[string]func(*testing.T, string){
		"whoami": decodesAsJSON[whoamiIn], "list_d1_databases": decodesAsJSON[listDatabasesIn],
		"create_d1_database": decodesAsJSON[createDatabaseIn], "delete_d1_database": decodesAsJSON[deleteDatabaseIn],
		"d1_query": decodesAsJSON[d1QueryIn], "list_kv_namespaces": decodesAsJSON[listNamespacesIn],
		"create_kv_namespace": decodesAsJSON[createNamespaceIn], "rename_kv_namespace": decodesAsJSON[renameNamespaceIn],
		"delete_kv_namespace": decodesAsJSON[deleteNamespaceIn], "kv_get": decodesAsJSON[kvGetIn],
		"kv_put": decodesAsJSON[kvPutIn], "kv_delete": decodesAsJSON[kvKeyIn], "kv_list": decodesAsJSON[kvListIn],
		"kv_bulk_put": decodesAsJSON[bulkPutIn], "kv_bulk_get": decodesAsJSON[bulkGetIn],
		"kv_bulk_delete": decodesAsJSON[bulkDeleteIn], "list_r2_buckets": decodesAsJSON[listBucketsIn],
		"create_r2_bucket": decodesAsJSON[createBucketIn], "delete_r2_bucket": decodesAsJSON[deleteBucketIn],
		"r2_list": decodesAsJSON[r2ListIn], "r2_upload": decodesAsJSON[uploadIn], "r2_download": decodesAsJSON[downloadIn],
		"r2_head": decodesAsJSON[objectKeyIn], "r2_delete": decodesAsJSON[r2DeleteIn], "r2_copy": decodesAsJSON[copyIn],
		"r2_presign": decodesAsJSON[presignIn],
	} {
		t.Run(name, func(t *testing.T) { check(t, name) })
	}
	if n := len(generatedSchemas); n != 26 {
		t.Errorf("%d tools; this test knows the argument types of 26", n)
	}
}

func decodesAsJSON[In any](t *testing.T, name string) {
	fc := newFastCheck([]byte(generatedSchemas[name].in), reflect.TypeFor[In]())
	if fc == nil {
		return
	}
	for _, c := range fastCases(fc) {
		var parsed map[string]any
		_ = json.Unmarshal(c.args, &parsed)
		for _, p := range []map[string]any{nil, parsed} {
			var got In
			if !fc.decode(c.args, p, reflect.ValueOf(&got).Elem()) {
				if c.plain && settableAll(fc, c.args) {
					t.Errorf("%s: fastCheck does not decode %s", name, c.args)
				}
				continue
			}
			var want In
			if err := json.Unmarshal(c.args, &want); err != nil {
				t.Errorf("%s: fastCheck decodes %s, which json.Unmarshal refuses: %v", name, c.args, err)
			} else if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: fastCheck decodes %s as %+v, json.Unmarshal as %+v", name, c.args, got, want)
			}
		}
	}
}

// settableAll reports whether every member of args has a field fc sets.
func settableAll(fc *fastCheck, args []byte) bool {
	var members map[string]json.RawMessage
	if json.Unmarshal(args, &members) != nil {
		return false
	}
	for name := range members {
		if fc.props[name].field == nil {
			return false
		}
	}
	return true
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
