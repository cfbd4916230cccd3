package cffake_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

// specPath is Cloudflare's API description, kept beside the repository (in
// shared/reference) and never copied into it; relative to this package's
// directory, which is where go test runs.
const specPath = "../../../../shared/reference/cloudflare-storage-openapi.json"

type openAPI struct {
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	Parameters []struct {
		Name   string         `json:"name"`
		In     string         `json:"in"`
		Schema map[string]any `json:"schema"`
	} `json:"parameters"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema map[string]any `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

func loadSpec(t *testing.T) *openAPI {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(specPath))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("reference spec absent at %s: this test checks the fake against Cloudflare's API description, which lives in shared/reference beside the repository", specPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	var spec openAPI
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatalf("parsing %s: %v", specPath, err)
	}
	return &spec
}

// claimed reports whether a spec path belongs to an area the fake serves:
// accounts, token verification, Workers KV, R2 buckets (not their CORS,
// domains, lifecycle, objects or Sippy sub-resources) and D1.
func claimed(path string) bool {
	switch path {
	case "/accounts", "/user/tokens/verify", "/accounts/{account_id}/tokens/verify",
		"/accounts/{account_id}/r2/buckets", "/accounts/{account_id}/r2/buckets/{bucket_name}":
		return true
	}
	return strings.HasPrefix(path, "/accounts/{account_id}/storage/kv/") ||
		strings.HasPrefix(path, "/accounts/{account_id}/d1/")
}

// unserved are operations of the claimed areas that the fake deliberately
// does not route: D1's export and import hand out signed R2 URLs and run as
// polled background tasks, which mcp-cfstorage does not use. A client that
// calls them gets Cloudflare's "no route" (404, 7003).
var unserved = map[string]bool{
	"POST /accounts/{account_id}/d1/database/{database_id}/export": true,
	"POST /accounts/{account_id}/d1/database/{database_id}/import": true,
}

// specOps lists the spec's operations of the claimed areas: those the fake
// serves, or (served false) those it deliberately leaves unrouted.
func specOps(spec *openAPI, served bool) []string {
	var out []string
	for path, ops := range spec.Paths {
		if !claimed(path) {
			continue
		}
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head":
				op := strings.ToUpper(method) + " " + path
				if unserved[op] != served {
					out = append(out, op)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func claimedOps(spec *openAPI) []string { return specOps(spec, true) }

// specFixture is a fake with one of everything, and a request per operation
// that should succeed.
type specFixture struct {
	a          *api
	ns, doom   string
	db, doomDB string
	requests   map[string]func() *response
}

func newSpecFixture(t *testing.T) *specFixture {
	a, _ := newAPI(t, cffake.WithTokens(
		cffake.Token{Value: cffake.DefaultToken, Permissions: cffake.AllPermissions()},
		cffake.Token{Value: "owned", Owner: acct, Permissions: cffake.AllPermissions()},
	))
	f := &specFixture{a: a, ns: a.createNamespace("spec"), doom: a.createNamespace("doomed")}
	body, ct := multipartBody(t, []byte(`{"a":1}`), `{"m":1}`)
	a.do(http.MethodPut, kvBase+"/"+f.ns+"/values/k", body, "Content-Type", ct).ok(t, nil)
	a.put(f.ns, "k2", "v").ok(t, nil)
	a.createBucket("spec-bucket")
	a.createBucket("doomed-bucket")
	f.db = a.createDatabase("spec-db")
	f.doomDB = a.createDatabase("doomed-db")
	a.query(f.db, "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL); INSERT INTO t (name, score) VALUES ('a', 1.5), ('b', 2)").ok(t, nil)
	dbPath := d1Base + "/" + f.db

	nsPath := kvBase + "/" + f.ns
	f.requests = map[string]func() *response{
		"GET /accounts":                                       func() *response { return a.get("/accounts") },
		"GET /user/tokens/verify":                             func() *response { return a.get("/user/tokens/verify") },
		"GET /accounts/{account_id}/tokens/verify":            func() *response { return a.as("owned").get("/accounts/" + acct + "/tokens/verify") },
		"GET /accounts/{account_id}/r2/buckets":               func() *response { return a.get(r2Base) },
		"POST /accounts/{account_id}/r2/buckets":              func() *response { return a.json(http.MethodPost, r2Base, map[string]string{"name": "new-bucket"}) },
		"GET /accounts/{account_id}/r2/buckets/{bucket_name}": func() *response { return a.get(r2Base + "/spec-bucket") },
		"DELETE /accounts/{account_id}/r2/buckets/{bucket_name}": func() *response {
			return a.do(http.MethodDelete, r2Base+"/doomed-bucket", nil)
		},
		"GET /accounts/{account_id}/storage/kv/namespaces": func() *response { return a.get(kvBase) },
		"POST /accounts/{account_id}/storage/kv/namespaces": func() *response {
			return a.json(http.MethodPost, kvBase, map[string]string{"title": "created"})
		},
		"GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}": func() *response { return a.get(nsPath) },
		"PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}": func() *response {
			return a.json(http.MethodPut, nsPath, map[string]string{"title": "spec"})
		},
		"DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}": func() *response {
			return a.do(http.MethodDelete, kvBase+"/"+f.doom, nil)
		},
		"GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys": func() *response { return a.get(nsPath + "/keys") },
		"GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}": func() *response {
			return a.get(nsPath + "/values/k")
		},
		"PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}": func() *response {
			return a.put(f.ns, "k3", "v")
		},
		"DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}": func() *response {
			return a.do(http.MethodDelete, nsPath+"/values/k2", nil)
		},
		"GET /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/metadata/{key_name}": func() *response {
			return a.get(nsPath + "/metadata/k")
		},
		"PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk": func() *response {
			return a.json(http.MethodPut, nsPath+"/bulk", []map[string]any{{"key": "b", "value": "v", "metadata": map[string]int{"n": 1}}})
		},
		"DELETE /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk": func() *response {
			return a.json(http.MethodDelete, nsPath+"/bulk", []string{"gone"})
		},
		"POST /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/delete": func() *response {
			return a.json(http.MethodPost, nsPath+"/bulk/delete", []string{"gone"})
		},
		"POST /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/get": func() *response {
			return a.json(http.MethodPost, nsPath+"/bulk/get", map[string]any{"keys": []string{"k", "absent"}, "withMetadata": true})
		},
		"GET /accounts/{account_id}/d1/database": func() *response { return a.get(d1Base) },
		"POST /accounts/{account_id}/d1/database": func() *response {
			return a.json(http.MethodPost, d1Base, map[string]string{"name": "created-db", "primary_location_hint": "weur"})
		},
		"GET /accounts/{account_id}/d1/database/{database_id}": func() *response { return a.get(dbPath) },
		"DELETE /accounts/{account_id}/d1/database/{database_id}": func() *response {
			return a.do(http.MethodDelete, d1Base+"/"+f.doomDB, nil)
		},
		// Rows without NULLs or BLOBs: the spec's raw row items allow only
		// numbers, strings and objects (see TestD1ValueTypes for the rest).
		"POST /accounts/{account_id}/d1/database/{database_id}/query": func() *response {
			return a.query(f.db, "SELECT * FROM t WHERE score > 1; INSERT INTO t (name, score) VALUES ('c', 3)")
		},
		"POST /accounts/{account_id}/d1/database/{database_id}/raw": func() *response {
			return a.raw(f.db, "SELECT id, name, score FROM t WHERE name = ?", "a")
		},
	}
	return f
}

// concrete fills a path template with the fixture's resources.
func (f *specFixture) concrete(pattern string) string {
	return strings.NewReplacer(
		"{account_id}", acct, "{namespace_id}", f.ns, "{key_name}", "k", "{bucket_name}", "spec-bucket",
		"{database_id}", f.db,
	).Replace(pattern)
}

// The fake serves exactly the operations of the claimed areas.
func TestSpecOperationsAreRouted(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	want := claimedOps(spec)
	got := cffake.New().Routes()
	if !slices.Equal(got, want) {
		t.Fatalf("routes differ from the spec\n fake: %q\n spec: %q", got, want)
	}
	// And each is reachable: a request gets anything but "no route".
	f := newSpecFixture(t)
	for _, op := range want {
		method, pattern, _ := strings.Cut(op, " ")
		r := f.a.do(method, f.concrete(pattern), nil)
		if r.status == 404 && len(r.env.Errors) > 0 && r.env.Errors[0].Code == 7003 || r.status == 405 {
			t.Errorf("%s: not routed: %d %s", op, r.status, r.body)
		}
	}
	// The operations left unserved are documented, exist in the spec, and
	// answer "no route".
	if got, want := specOps(spec, false), slices.Sorted(maps.Keys(unserved)); !slices.Equal(got, want) {
		t.Errorf("unserved operations in the spec: %q, want %q", got, want)
	}
	for op := range unserved {
		method, pattern, _ := strings.Cut(op, " ")
		f.a.do(method, f.concrete(pattern), nil).fails(t, 404, 7003)
	}
}

// Every operation's success and failure bodies have the shape of the spec's
// response schemas.
func TestSpecResponseSchemas(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	v := &validator{schemas: spec.Components.Schemas}
	f := newSpecFixture(t)
	for _, op := range claimedOps(spec) {
		method, pattern, _ := strings.Cut(op, " ")
		desc := spec.Paths[pattern][strings.ToLower(method)]
		t.Run(op, func(t *testing.T) {
			call := f.requests[op]
			if call == nil {
				t.Fatalf("no request for %s in the spec fixture", op)
			}
			r := call()
			if r.status != 200 {
				t.Fatalf("want 200, got %d: %s", r.status, r.body)
			}
			if media, ok := desc.Responses["200"].Content["application/json"]; ok {
				v.expect(t, media.Schema, r.body)
			} else if _, raw := desc.Responses["200"].Content["application/octet-stream"]; !raw || r.header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("200 content types of the spec: %v; fake sent %q", desc.Responses["200"].Content, r.header.Get("Content-Type"))
			}

			// An unauthenticated request fails with the spec's failure shape.
			fail := f.a.as("").do(method, f.concrete(pattern), nil)
			if fail.status < 400 || fail.status >= 500 {
				t.Fatalf("unauthenticated: %d %s", fail.status, fail.body)
			}
			v.expect(t, failurePart(desc.Responses["4XX"].Content["application/json"].Schema), fail.body)
		})
	}
}

// failurePart picks the failure schema out of a 4XX schema. The accounts
// and verify endpoints describe failures as allOf [success, failure]; since
// their success schemas require result to be an array or object and the
// failure schema requires null, the failure part is what a failure can
// match.
func failurePart(s map[string]any) map[string]any {
	all, ok := s["allOf"].([]any)
	if !ok {
		return s
	}
	for _, sub := range all {
		if m, ok := sub.(map[string]any); ok && strings.Contains(fmt.Sprint(m["$ref"]), "failure") {
			return m
		}
	}
	return s
}

// Query and header parameters with bounds or enums in the spec are enforced
// at those bounds: the limits pass, one past them is a 400.
func TestSpecParameterBounds(t *testing.T) {
	t.Parallel()
	spec := loadSpec(t)
	f := newSpecFixture(t)
	for _, op := range claimedOps(spec) {
		method, pattern, _ := strings.Cut(op, " ")
		if method != http.MethodGet {
			continue
		}
		for _, p := range spec.Paths[pattern]["get"].Parameters {
			if p.In != "query" && p.In != "header" {
				continue
			}
			send := func(value string) *response {
				if p.In == "header" {
					return f.a.get(f.concrete(pattern), p.Name, value)
				}
				return f.a.get(f.concrete(pattern) + "?" + p.Name + "=" + value)
			}
			name := op + " " + p.Name
			if lo, ok := p.Schema["minimum"].(float64); ok {
				t.Run(name+" minimum", func(t *testing.T) {
					send(fmt.Sprint(lo)).ok(t, nil)
					if r := send(fmt.Sprint(lo - 1)); r.status != 400 {
						t.Fatalf("%s=%v: want 400, got %d %s", p.Name, lo-1, r.status, r.body)
					}
				})
			}
			if hi, ok := p.Schema["maximum"].(float64); ok {
				t.Run(name+" maximum", func(t *testing.T) {
					send(fmt.Sprint(hi)).ok(t, nil)
					if r := send(fmt.Sprint(hi + 1)); r.status != 400 {
						t.Fatalf("%s=%v: want 400, got %d %s", p.Name, hi+1, r.status, r.body)
					}
				})
			}
			if enum, ok := p.Schema["enum"].([]any); ok {
				t.Run(name+" enum", func(t *testing.T) {
					for _, e := range enum {
						send(fmt.Sprint(e)).ok(t, nil)
					}
					if r := send("not-in-the-enum"); r.status != 400 {
						t.Fatalf("%s outside its enum: want 400, got %d %s", p.Name, r.status, r.body)
					}
				})
			}
		}
	}
}

// validator checks JSON against the subset of OpenAPI 3.0 schemas the
// reference spec uses: $ref, allOf, anyOf, oneOf, type, nullable, enum,
// required, properties, additionalProperties, items, minimum, minLength and
// maxLength of strings, pattern.
type validator struct {
	schemas map[string]any
}

func (v *validator) expect(t *testing.T, schema map[string]any, body []byte) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	if errs := v.check(schema, doc, "$"); len(errs) > 0 {
		t.Fatalf("body does not match the spec:\n  %s\nbody: %s", strings.Join(errs, "\n  "), body)
	}
}

func (v *validator) check(s map[string]any, x any, at string) []string {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		target, ok := v.schemas[name].(map[string]any)
		if !ok {
			return []string{at + ": unresolved " + ref}
		}
		return v.check(target, x, at)
	}
	var errs []string
	if all, ok := s["allOf"].([]any); ok {
		for i, sub := range all {
			errs = append(errs, v.check(v.overridden(sub.(map[string]any), all[i+1:]), x, at)...)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		if alts, ok := s[key].([]any); ok {
			matched := false
			for _, sub := range alts {
				if len(v.check(sub.(map[string]any), x, at)) == 0 {
					matched = true
					break
				}
			}
			if !matched {
				errs = append(errs, at+": matches none of "+key)
			}
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(x) && (e == nil) == (x == nil) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, x, enum))
	}
	if x == nil {
		if typ, typed := s["type"]; typed && s["nullable"] != true && !slices.Contains(asSlice(s["enum"]), nil) {
			errs = append(errs, fmt.Sprintf("%s: null where %v is required", at, typ))
		}
		return errs
	}
	switch s["type"] {
	case "object":
		if _, ok := x.(map[string]any); !ok {
			return append(errs, fmt.Sprintf("%s: %T is not an object", at, x))
		}
	case "array":
		if _, ok := x.([]any); !ok {
			return append(errs, fmt.Sprintf("%s: %T is not an array", at, x))
		}
	case "string":
		if _, ok := x.(string); !ok {
			return append(errs, fmt.Sprintf("%s: %T is not a string", at, x))
		}
	case "number":
		if _, ok := x.(float64); !ok {
			return append(errs, fmt.Sprintf("%s: %T is not a number", at, x))
		}
	case "integer":
		if n, ok := x.(float64); !ok || n != math.Trunc(n) {
			return append(errs, fmt.Sprintf("%s: %v is not an integer", at, x))
		}
	case "boolean":
		if _, ok := x.(bool); !ok {
			return append(errs, fmt.Sprintf("%s: %T is not a boolean", at, x))
		}
	}
	switch x := x.(type) {
	case map[string]any:
		for _, req := range asSlice(s["required"]) {
			if _, ok := x[req.(string)]; !ok {
				errs = append(errs, fmt.Sprintf("%s: required %q missing", at, req))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range x {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, v.check(ps, val, at+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, v.check(ap, val, at+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, item := range x {
				errs = append(errs, v.check(items, item, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if n, ok := s["maxLength"].(float64); ok && float64(len(x)) > n {
			errs = append(errs, fmt.Sprintf("%s: %q is longer than %v", at, x, n))
		}
		if n, ok := s["minLength"].(float64); ok && float64(len(x)) < n {
			errs = append(errs, fmt.Sprintf("%s: %q is shorter than %v", at, x, n))
		}
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			errs = append(errs, fmt.Sprintf("%s: %q does not match %s", at, x, p))
		}
	case float64:
		if n, ok := s["minimum"].(float64); ok && x < n {
			errs = append(errs, fmt.Sprintf("%s: %v is below %v", at, x, n))
		}
	}
	return errs
}

// overridden is an allOf member without the properties that later members
// of the same allOf define again. The spec's operations narrow the common
// envelope this way: d1_api-response-common types result as an object, and
// the list and query operations then make it an array, which a strict
// reading of allOf could never satisfy.
func (v *validator) overridden(s map[string]any, later []any) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		if target, ok := v.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any); ok {
			s = target
		}
	}
	props, ok := s["properties"].(map[string]any)
	if !ok {
		return s
	}
	var trimmed map[string]any
	for _, l := range later {
		lp, _ := l.(map[string]any)["properties"].(map[string]any)
		for k := range lp {
			if _, dup := props[k]; !dup {
				continue
			}
			if trimmed == nil {
				trimmed = maps.Clone(props)
			}
			delete(trimmed, k)
		}
	}
	if trimmed == nil {
		return s
	}
	out := maps.Clone(s)
	out["properties"] = trimmed
	return out
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// The validator is not vacuous: it rejects what does not match.
func TestValidatorRejectsMismatches(t *testing.T) {
	t.Parallel()
	v := &validator{schemas: map[string]any{
		"msgs": map[string]any{"type": "array", "items": map[string]any{
			"type": "object", "required": []any{"code", "message"},
			"properties": map[string]any{"code": map[string]any{"type": "integer", "minimum": 1000.0}},
		}},
	}}
	schema := map[string]any{
		"type":     "object",
		"required": []any{"success", "errors"},
		"properties": map[string]any{
			"success": map[string]any{"type": "boolean", "enum": []any{false}},
			"errors":  map[string]any{"$ref": "#/components/schemas/msgs"},
			"result":  map[string]any{"type": "object"},
			"name":    map[string]any{"type": "string", "maxLength": 3.0, "pattern": "^[a-z]+$"},
		},
	}
	bad := map[string]string{
		"missing required":  `{"success":false}`,
		"enum":              `{"success":true,"errors":[]}`,
		"nested required":   `{"success":false,"errors":[{"code":1000}]}`,
		"minimum":           `{"success":false,"errors":[{"code":971,"message":"m"}]}`,
		"integer":           `{"success":false,"errors":[{"code":1000.5,"message":"m"}]}`,
		"null not nullable": `{"success":false,"errors":[],"result":null}`,
		"maxLength":         `{"success":false,"errors":[],"name":"abcd"}`,
		"pattern":           `{"success":false,"errors":[],"name":"A"}`,
	}
	for name, body := range bad {
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		if errs := v.check(schema, doc, "$"); len(errs) == 0 {
			t.Errorf("%s: %s passed", name, body)
		}
	}
	var good any
	_ = json.Unmarshal([]byte(`{"success":false,"errors":[{"code":1000,"message":"m"}],"result":{},"name":"abc"}`), &good)
	if errs := v.check(schema, good, "$"); len(errs) != 0 {
		t.Errorf("valid body rejected: %v", errs)
	}
}

// A later allOf member that defines a property again replaces the earlier
// definition, and only that one.
func TestValidatorAllOfOverride(t *testing.T) {
	t.Parallel()
	v := &validator{schemas: map[string]any{
		"common": map[string]any{"type": "object", "required": []any{"success"}, "properties": map[string]any{
			"success": map[string]any{"type": "boolean"},
			"result":  map[string]any{"type": "object"},
		}},
	}}
	schema := map[string]any{"allOf": []any{
		map[string]any{"$ref": "#/components/schemas/common"},
		map[string]any{"properties": map[string]any{"result": map[string]any{"type": "array"}}},
	}}
	for body, valid := range map[string]bool{
		`{"success":true,"result":[]}`:  true,
		`{"success":true,"result":{}}`:  false,
		`{"success":"y","result":[]}`:   false,
		`{"result":[]}`:                 false,
		`{"success":true,"result":"x"}`: false,
	} {
		var doc any
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		if errs := v.check(schema, doc, "$"); (len(errs) == 0) != valid {
			t.Errorf("%s: valid = %v, errors %v", body, len(errs) == 0, errs)
		}
	}
}
