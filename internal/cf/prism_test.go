package cf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// TestPrism checks the requests of the REST half of the backend against
// Cloudflare's published API description, served by Stoplight Prism as a
// validating mock (test/prism/run.sh starts it and sets prismURLEnv). Our
// own fake (cffake) was written from our reading of the API, so it could
// share our misunderstandings; Prism validates each request (route, path
// and query parameters, headers, security, request body) against the spec
// itself.
//
// Prism, started with --errors, answers a request that breaks the spec with
// a 4xx and describes the breach in the sl-violations header, for example
//
//	HTTP/1.1 422 Unprocessable Entity
//	sl-violations: [{"location":["request","query","per_page"],"severity":"Error",
//	  "code":"maximum","message":"Request query parameter per_page must be <= 50"}]
//
// or, when no route or method of the spec matches, with an
// application/problem+json body whose type is
// https://stoplight.io/prism/errors#NO_PATH_MATCHED_ERROR (or
// NO_METHOD_MATCHED_ERROR). A request that conforms gets the spec's example
// of the lowest 2xx answer. So prismRecorder, under the backend's
// transport, records every exchange, and a request counts as refused when
// Prism listed an Error-severity violation of the request or answered with
// a status of 400 or more (with one exception for the spec's own faults,
// see prismExchange.refused). Every refused request fails the test, except
// the known deviations listed with their step (each explained there).
// Prism does not flag a query parameter the spec does not declare; with
// prismSpecEnv set, the test checks those names itself.
//
// Prism's answers are examples from the spec ("string" for a date, one
// empty account, ...): nothing is asserted of the values they hold. Where
// our client cannot make sense of such an answer the step's error is
// reported in the log as a response mismatch, apart from request
// violations, and does not fail the test: it says something about the
// spec's examples, not about what we send. The same goes for an answer of
// Prism's that breaks the spec's own response schema (D1's list and raw
// answers), which --errors turns into a 500 after the request was
// validated and accepted.
//
// R2 objects go over the S3 API, which the spec does not describe: only the
// REST operations are exercised here.
func TestPrism(t *testing.T) {
	base := os.Getenv(prismURLEnv)
	if base == "" {
		t.Skipf("%s is not set: this test needs Stoplight Prism serving Cloudflare's API description; run it with bash test/prism/run.sh", prismURLEnv)
	}
	rec := &prismRecorder{next: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(rec.next.(*http.Transport).CloseIdleConnections)
	newBackend := func(mutate func(*Config)) *Backend {
		cfg := Config{
			APIToken:  "prism-test-token-0000000000000000000000",
			AccountID: prismAccount,
			BaseURL:   base,
			// The recorder sees every attempt; no retries, so that
			// nothing is hidden behind one.
			HTTPClient: &http.Client{Transport: rec},
			Retry:      RetryPolicy{Attempts: 1},
			Timeout:    30 * time.Second,
		}
		if mutate != nil {
			mutate(&cfg)
		}
		b, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	b := newBackend(nil)
	eu := newBackend(func(c *Config) { c.Jurisdiction = "eu" })
	noAccount := newBackend(func(c *Config) { c.AccountID = "" })
	kv, r2, d1 := b.KV(), b.R2(), b.D1()
	ctx := context.Background()

	// Keys that are valid for KV but need escaping in a path or a query.
	hostileKeys := []string{
		"plain-key",
		"with space",
		"dir/sub/leaf",
		"/leading-slash",
		"trailing-slash/",
		"question?mark=1&x=2",
		"hash#fragment",
		"percent%2Fencoded%",
		"plus+sign",
		"semi;colon,comma",
		"unicode-é-日本語-🙂",
		"back\\slash",
		"..dots..",
		strings.Repeat("k", 512),
		strings.Repeat("é", 256), // 512 bytes
	}
	meta := json.RawMessage(`{"owner":"prism","n":1}`)

	type step struct {
		name string
		run  func() error
		// known are the spec violations this step is expected to
		// provoke, each explained where it is listed.
		known knownDeviations
	}
	var steps []step
	add := func(name string, run func() error, known ...knownDeviation) {
		steps = append(steps, step{name, run, known})
	}

	// Accounts and the API token.
	add("account from the token (GET /accounts)", func() error {
		_, err := noAccount.account(ctx)
		return err
	})
	add("describe (GET /user/tokens/verify)", func() error {
		_, err := b.Describe(ctx)
		return err
	})
	add("verify an account API token (GET /accounts/{id}/tokens/verify)", func() error {
		// Cloudflare's user endpoint refuses an account token: the
		// recorder answers it so, and the backend tries the account's.
		rec.refuseUserVerify.Store(true)
		defer rec.refuseUserVerify.Store(false)
		_, err := b.verifyToken(ctx, prismAccount)
		return err
	})

	// KV namespaces.
	add("list KV namespaces", func() error {
		_, err := kv.ListNamespaces(ctx, storage.ListOptions{})
		return err
	})
	add("list KV namespaces from a cursor, with a prefix", func() error {
		_, err := kv.ListNamespaces(ctx, storage.ListOptions{Prefix: "app ", Cursor: encodePosition(150), Limit: storage.MaxNamespaceList})
		return err
	})
	add("create KV namespace", func() error {
		_, err := kv.CreateNamespace(ctx, "My Own Namespace ✓")
		return err
	})
	add("get KV namespace", func() error {
		_, err := kv.GetNamespace(ctx, prismNamespace)
		return err
	})
	add("rename KV namespace", func() error {
		return kv.RenameNamespace(ctx, prismNamespace, "renamed / namespace ?#%")
	})
	add("delete KV namespace", func() error {
		return kv.DeleteNamespace(ctx, prismNamespace)
	})

	// KV values, one key at a time, with hostile keys.
	for _, key := range hostileKeys {
		name := fmt.Sprintf("%.40q", key)
		add("put "+name, func() error {
			return kv.Put(ctx, prismNamespace, storage.KVPut{Key: key, Body: strings.NewReader("value"), Size: 5})
		})
		add("get "+name+" (value and metadata)", func() error {
			v, err := kv.Get(ctx, prismNamespace, key)
			if err == nil {
				_, _ = io.Copy(io.Discard, v.Body)
				v.Body.Close()
			}
			return err
		})
		add("delete "+name, func() error {
			return kv.Delete(ctx, prismNamespace, key)
		})
	}
	add("put with metadata and a TTL (multipart)", func() error {
		return kv.Put(ctx, prismNamespace, storage.KVPut{Key: "dir/with meta?", Body: strings.NewReader("v\x00\xff binary"), Size: 10,
			Metadata: meta, Expiry: storage.Expiry{TTL: 300}})
	})
	add("put with an absolute expiration", func() error {
		return kv.Put(ctx, prismNamespace, storage.KVPut{Key: "expiring #1", Body: bytes.NewReader([]byte("soon")), Size: 4,
			Expiry: storage.Expiry{Expiration: 1_900_000_000}})
	})
	add("list keys", func() error {
		_, err := kv.List(ctx, prismNamespace, storage.ListOptions{})
		return err
	})
	add("list keys with a hostile prefix, a cursor and a limit", func() error {
		_, err := kv.List(ctx, prismNamespace, storage.ListOptions{Prefix: "dir/ sub?x=1&y#é%", Cursor: "6Ck1la0VxJ0djhidm1MdX2FyDGxLKVeeHZZmORS_8XeSuhz9SjIJRaSa2lnsF01tQOHrfTGAP3R", Limit: storage.MinKVListLimit})
		return err
	})

	// KV bulk operations.
	add("bulk put (text, binary as base64, metadata, expiries)", func() error {
		_, err := kv.BulkPut(ctx, prismNamespace, []storage.KVEntry{
			{Key: hostileKeys[1], Value: []byte("text value")},
			{Key: hostileKeys[2], Value: []byte{0, 0xff, 0xfe}, Metadata: meta},
			{Key: hostileKeys[5], Value: []byte("ttl"), Expiry: storage.Expiry{TTL: 3600}},
			{Key: hostileKeys[10], Value: []byte("exp"), Expiry: storage.Expiry{Expiration: 1_900_000_000}},
		})
		return err
	})
	add("bulk put with metadata that is not a JSON object", func() error {
		_, err := kv.BulkPut(ctx, prismNamespace, []storage.KVEntry{
			{Key: "string-meta", Value: []byte("v"), Metadata: json.RawMessage(`"just a string"`)},
		})
		return err
	}, knownDeviation{
		// storage.ValidateKVMetadata takes any JSON, as the value
		// write's multipart metadata ("Arbitrary JSON", a string in
		// the form) does; the spec's bulk entry types metadata as an
		// object (workers-kv_list_metadata). Kept to show the
		// difference; real KV metadata is any JSON value.
		location: "request.body.0.metadata", code: "type",
	})
	add("bulk get", func() error {
		_, err := kv.BulkGet(ctx, prismNamespace, hostileKeys, storage.BulkGetOptions{})
		return err
	})
	add("bulk delete", func() error {
		_, err := kv.BulkDelete(ctx, prismNamespace, hostileKeys)
		return err
	})

	// R2 buckets (REST; objects are S3, not in the spec).
	add("list buckets", func() error {
		_, err := r2.ListBuckets(ctx, storage.ListOptions{})
		return err
	})
	add("list buckets with a prefix, a cursor and a limit", func() error {
		_, err := r2.ListBuckets(ctx, storage.ListOptions{Prefix: "example", Cursor: "a-cursor/from+before=", Limit: storage.MaxBucketList})
		return err
	})
	add("create bucket", func() error {
		_, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "example-bucket"})
		return err
	})
	for _, hint := range storage.LocationHints {
		var known []knownDeviation
		if !slices.Contains([]string{"apac", "eeur", "enam", "weur", "wnam"}, hint) {
			// R2 documents the Oceania hint ("oc") that storage
			// offers; the spec's r2_bucket_location enum predates it.
			known = append(known, knownDeviation{location: "request.body.locationHint", code: "enum"})
		}
		add("create bucket in "+hint+", infrequent access", func() error {
			_, err := r2.CreateBucket(ctx, storage.BucketSpec{Name: "bucket-" + hint, LocationHint: hint, StorageClass: "InfrequentAccess"})
			return err
		}, known...)
	}
	add("get bucket", func() error {
		_, err := r2.GetBucket(ctx, "example-bucket")
		return err
	})
	add("delete bucket", func() error {
		return r2.DeleteBucket(ctx, "example-bucket")
	})
	add("eu: list buckets (cf-r2-jurisdiction)", func() error {
		_, err := eu.R2().ListBuckets(ctx, storage.ListOptions{Prefix: "eu-"})
		return err
	})
	add("eu: create bucket", func() error {
		_, err := eu.R2().CreateBucket(ctx, storage.BucketSpec{Name: "eu-bucket", Jurisdiction: "eu", LocationHint: "weur"})
		return err
	})
	add("eu: get bucket", func() error {
		_, err := eu.R2().GetBucket(ctx, "eu-bucket")
		return err
	})
	add("eu: delete bucket", func() error {
		return eu.R2().DeleteBucket(ctx, "eu-bucket")
	})

	// D1.
	add("list databases", func() error {
		_, err := d1.ListDatabases(ctx, storage.ListOptions{})
		return err
	})
	add("list databases with a prefix", func() error {
		_, err := d1.ListDatabases(ctx, storage.ListOptions{Prefix: "my-", Limit: 10})
		return err
	})
	add("create database", func() error {
		_, err := d1.CreateDatabase(ctx, storage.DatabaseSpec{Name: "my-database"})
		return err
	})
	add("create database with a location hint and a jurisdiction", func() error {
		// The spec's body has no jurisdiction property, but does not
		// forbid others: Prism cannot judge it.
		_, err := d1.CreateDatabase(ctx, storage.DatabaseSpec{Name: "my_eu_db", PrimaryLocationHint: "weur", Jurisdiction: "eu"})
		return err
	})
	add("get database", func() error {
		_, err := d1.GetDatabase(ctx, prismDatabase)
		return err
	})
	add("delete database", func() error {
		return d1.DeleteDatabase(ctx, prismDatabase)
	})
	add("query: one statement, string parameters (raw)", func() error {
		_, err := d1.Query(ctx, prismDatabase, []storage.Statement{
			{SQL: "SELECT * FROM myTable WHERE field = ? OR field = ?", Params: []any{"firstParam", "it's ?#%/é"}},
		}, storage.QueryOptions{})
		return err
	})
	add("query: read-only, several statements without parameters (joined into one sql)", func() error {
		_, err := d1.Query(ctx, prismDatabase, []storage.Statement{
			{SQL: "SELECT 1"}, {SQL: "SELECT name FROM sqlite_master -- tables"},
		}, storage.QueryOptions{ReadOnly: true})
		return err
	})
	add("query: typed parameters", func() error {
		_, err := d1.Query(ctx, prismDatabase, []storage.Statement{
			{SQL: "INSERT INTO t (i, f, b, n, blob) VALUES (?, ?, ?, ?, ?)", Params: []any{int64(42), 1.5, true, nil, []byte{1, 2}}},
		}, storage.QueryOptions{})
		return err
	},
		// The spec types params as strings (d1_params); d1.go sends
		// numbers, booleans, null and blobs (arrays of byte values) as
		// JSON values of their own type, which D1 binds as INTEGER,
		// REAL, NULL and BLOB: as strings they would bind as TEXT, and
		// null and a blob have no string form at all.
		knownDeviation{location: "request.body.params.0", code: "type"},
		knownDeviation{location: "request.body.params.1", code: "type"},
		knownDeviation{location: "request.body.params.2", code: "type"},
		knownDeviation{location: "request.body.params.3", code: "type"},
		knownDeviation{location: "request.body.params.4", code: "type"},
	)
	add("query: batch of statements with parameters", func() error {
		_, err := d1.Query(ctx, prismDatabase, []storage.Statement{
			{SQL: "INSERT INTO t (s) VALUES (?)", Params: []any{"a"}},
			{SQL: "SELECT s FROM t WHERE s = ?", Params: []any{"a"}},
		}, storage.QueryOptions{})
		return err
	},
		// {"batch": [{sql, params}, ...]} is D1's batch body (the one
		// cloudflare-go v7 generates from Cloudflare's current API
		// description); the reference spec predates it and requires sql.
		knownDeviation{location: "request.body", code: "required"},
	)

	var mismatches []string
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			mark := rec.len()
			err := s.run()
			var sent int
			var refused bool
			for _, e := range rec.since(mark) {
				if e.synthetic {
					continue
				}
				sent++
				if e.err != nil {
					t.Errorf("%s %s: no answer from Prism: %v", e.method, e.path, e.err)
					refused = true
					continue
				}
				for _, v := range e.violations {
					if v.side() == "response" {
						// The spec's own answer breaks the spec's
						// response schema (see prismExchange.refused).
						t.Logf("SPEC RESPONSE VIOLATION (Prism's example, not our request): %s %s: %s: %s", e.method, e.path, v.where(), v.Message)
					} else if v.Severity != "Error" {
						t.Logf("%s %s: %s (%s): %s (not an error)", e.method, e.path, v.where(), v.Severity, v.Message)
					}
				}
				if !e.refused() {
					continue
				}
				refused = true
				unknown := e.unexplained(s.known)
				for _, v := range e.requestViolations() {
					if s.known.explains(v) {
						t.Logf("known deviation: %s %s: %s: %s", e.method, e.path, v.where(), v.Message)
					}
				}
				if len(unknown) == 0 && len(e.requestViolations()) > 0 {
					continue
				}
				t.Errorf("REQUEST VIOLATION: %s %s: Prism answered %d", e.method, e.path, e.status)
				for _, v := range unknown {
					t.Errorf("  %s [%v]: %s", v.where(), v.Code, v.Message)
				}
				if e.problem != "" {
					t.Errorf("  %s", e.problem)
				}
				if len(unknown) == 0 && e.problem == "" {
					t.Errorf("  body: %s", e.body)
				}
			}
			if sent == 0 {
				t.Fatalf("sent no request to Prism (error: %v)", err)
			}
			if err != nil && !refused {
				// Prism accepted every request, and answered with the
				// spec's example (or, where that example breaks the
				// spec's own response schema, a 500), which our client
				// could not use.
				mismatches = append(mismatches, fmt.Sprintf("%s: %v", s.name, err))
				t.Logf("RESPONSE MISMATCH (not a request violation, not a failure): %v", err)
			}
		})
	}

	// Prism does not flag a query parameter the spec does not declare (an
	// operation's parameters are not a closed set in OpenAPI): a misspelt
	// one would pass. With the spec at hand, every query parameter sent is
	// checked against the operation's.
	if path := os.Getenv(prismSpecEnv); path != "" {
		declared, err := loadQueryParams(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rec.since(0) {
			if e.synthetic || e.err != nil {
				continue
			}
			p, rawQuery, _ := strings.Cut(e.path, "?")
			names, ok := declared[e.method+" "+prismTemplate(p, declared)]
			if !ok {
				continue // no route: Prism said so already
			}
			q, err := url.ParseQuery(rawQuery)
			if err != nil {
				t.Errorf("REQUEST VIOLATION: %s %s: unparsable query: %v", e.method, e.path, err)
			}
			for name := range q {
				if !slices.Contains(names, name) {
					t.Errorf("REQUEST VIOLATION: %s %s: query parameter %q is not one the spec declares for the operation (%s)", e.method, e.path, name, strings.Join(names, ", "))
				}
			}
		}
	} else {
		t.Logf("%s is not set: query parameter names are not checked against the spec", prismSpecEnv)
	}

	// Every REST operation of the backend was accepted by Prism at least
	// once.
	for _, op := range prismOperations {
		if !rec.reached(op.method, op.path) {
			t.Errorf("no request was accepted at %s %s", op.method, op.path)
		}
	}
	t.Logf("%d requests to Prism in %d steps", rec.len(), len(steps))
	for _, m := range mismatches {
		t.Logf("response mismatch (not a failure): %s", m)
	}
}

// prismURLEnv names the URL of the Prism mock; unset, TestPrism is skipped.
// prismSpecEnv names the spec Prism serves, for the checks Prism does not
// make.
const (
	prismURLEnv  = "MCP_CFSTORAGE_PRISM_URL"
	prismSpecEnv = "MCP_CFSTORAGE_PRISM_SPEC"
)

// loadQueryParams reads the spec at path: for each "METHOD /template", the
// names of the query parameters the operation declares.
func loadQueryParams(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var spec struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	queryNames := func(ps []param) []string {
		var out []string
		for _, p := range ps {
			if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
				p = spec.Components.Parameters[name]
			}
			if p.In == "query" {
				out = append(out, p.Name)
			}
		}
		return out
	}
	out := map[string][]string{}
	for tmpl, item := range spec.Paths {
		var common []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &common); err != nil {
				return nil, fmt.Errorf("%s: %s: %v", path, tmpl, err)
			}
		}
		for method, raw := range item {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options"}, method) {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("%s: %s %s: %v", path, method, tmpl, err)
			}
			out[strings.ToUpper(method)+" "+tmpl] = append(queryNames(common), queryNames(op.Parameters)...)
		}
	}
	return out, nil
}

// prismTemplate is the spec's path template that the escaped path matches,
// or "" for none; a literal segment wins over a {parameter}.
func prismTemplate(path string, declared map[string][]string) string {
	best, bestLiterals := "", -1
	for key := range declared {
		_, tmpl, _ := strings.Cut(key, " ")
		if n := templateMatch(tmpl, path); n > bestLiterals {
			best, bestLiterals = tmpl, n
		}
	}
	return best
}

// templateMatch reports how many literal segments of tmpl path matches, or
// -1 when it does not match tmpl (a {parameter} matches one non-empty
// escaped segment).
func templateMatch(tmpl, path string) int {
	want, got := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return -1
	}
	literals := 0
	for i := range want {
		switch {
		case strings.HasPrefix(want[i], "{"):
			if got[i] == "" {
				return -1
			}
		case want[i] == got[i]:
			literals++
		default:
			return -1
		}
	}
	return literals
}

// Ids in the shape of the spec's examples.
const (
	prismAccount   = "023e105f4ecef8ad9ca31a8372d0c353"
	prismNamespace = "0f2ac74b498b48028cb68387c421e279"
	prismDatabase  = "8f2b7c1e-3a4d-4e5f-9a6b-7c8d9e0f1a2b"
)

// prismOperations are the spec's operations that the backend's REST half
// uses: TestPrism sends each of them at least once.
var prismOperations = []struct{ method, path string }{
	{"GET", "/accounts"},
	{"GET", "/user/tokens/verify"},
	{"GET", "/accounts/{account_id}/tokens/verify"},
	{"GET", "/accounts/{account_id}/storage/kv/namespaces"},
	{"POST", "/accounts/{account_id}/storage/kv/namespaces"},
	{"GET", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"},
	{"PUT", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"},
	{"DELETE", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}"},
	{"PUT", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"},
	{"GET", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"},
	{"DELETE", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"},
	{"GET", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/metadata/{key_name}"},
	{"GET", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/keys"},
	{"PUT", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk"},
	{"POST", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/get"},
	{"POST", "/accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/delete"},
	{"GET", "/accounts/{account_id}/r2/buckets"},
	{"POST", "/accounts/{account_id}/r2/buckets"},
	{"GET", "/accounts/{account_id}/r2/buckets/{bucket_name}"},
	{"DELETE", "/accounts/{account_id}/r2/buckets/{bucket_name}"},
	{"GET", "/accounts/{account_id}/d1/database"},
	{"POST", "/accounts/{account_id}/d1/database"},
	{"GET", "/accounts/{account_id}/d1/database/{database_id}"},
	{"DELETE", "/accounts/{account_id}/d1/database/{database_id}"},
	{"POST", "/accounts/{account_id}/d1/database/{database_id}/raw"},
}

// knownDeviation is a violation a step is expected to provoke: the dotted
// location Prism reports and its code.
type knownDeviation struct {
	location string
	code     string
}

type knownDeviations []knownDeviation

func (ks knownDeviations) explains(v prismViolation) bool {
	return slices.ContainsFunc(ks, func(k knownDeviation) bool {
		return k.location == v.where() && k.code == fmt.Sprint(v.Code)
	})
}

// prismViolation is one entry of Prism's sl-violations header.
type prismViolation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Code     any      `json:"code"` // a string, or a status such as 401 or 415
	Message  string   `json:"message"`
}

func (v prismViolation) where() string { return strings.Join(v.Location, ".") }

// side is "request" or "response": which one the violation is of.
func (v prismViolation) side() string {
	if len(v.Location) > 0 && v.Location[0] == "response" {
		return "response"
	}
	return "request"
}

// prismExchange is one request sent to Prism and what came back.
type prismExchange struct {
	method, path string // path: escaped, with the query
	status       int
	err          error
	synthetic    bool // answered by the recorder, not Prism
	violations   []prismViolation
	problem      string // Prism's problem+json (no route, no method, ...)
	problemType  string
	body         string // head of a refused request's answer
}

// refused reports a request that Prism did not accept: one with a
// request violation of severity Error, or any answer of 400 or more
// (Prism answers a conforming request with the example of the spec's lowest
// 2xx) but one: with --errors Prism also checks its own answer against the
// spec's response schema and, when that fails, answers 500 with a
// problem+json of type VIOLATIONS whose sl-violations are all response.*.
// The request was validated first and passed (any request violation would
// be listed too): that is a fault of the spec (D1's list and raw answers,
// whose allOf asks result to be an object and an array at once), not of
// our request.
func (e prismExchange) refused() bool {
	if len(e.requestViolations()) > 0 {
		return true
	}
	if e.status < 400 {
		return false
	}
	return !(e.status == http.StatusInternalServerError && strings.HasSuffix(e.problemType, "#VIOLATIONS") && e.responseOnly())
}

// requestViolations are the Error-severity violations of the request.
func (e prismExchange) requestViolations() []prismViolation {
	var out []prismViolation
	for _, v := range e.violations {
		if v.side() != "response" && v.Severity == "Error" {
			out = append(out, v)
		}
	}
	return out
}

// responseOnly reports violations that are all of Prism's own answer.
func (e prismExchange) responseOnly() bool {
	for _, v := range e.violations {
		if v.side() != "response" {
			return false
		}
	}
	return len(e.violations) > 0
}

// unexplained returns the violations of e that no known deviation matches.
func (e prismExchange) unexplained(known knownDeviations) []prismViolation {
	var out []prismViolation
	for _, v := range e.requestViolations() {
		if !known.explains(v) {
			out = append(out, v)
		}
	}
	return out
}

// prismRecorder records every exchange with Prism. With refuseUserVerify
// set it answers GET /user/tokens/verify itself, as Cloudflare answers an
// account API token there, so that the backend goes on to the account's
// verify endpoint.
type prismRecorder struct {
	next             http.RoundTripper
	refuseUserVerify atomic.Bool

	mu        sync.Mutex
	exchanges []prismExchange
}

func (r *prismRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	e := prismExchange{method: req.Method, path: req.URL.EscapedPath()}
	if req.URL.RawQuery != "" {
		e.path += "?" + req.URL.RawQuery
	}
	if r.refuseUserVerify.Load() && strings.HasSuffix(req.URL.Path, "/user/tokens/verify") {
		if req.Body != nil {
			req.Body.Close()
		}
		e.status, e.synthetic = http.StatusUnauthorized, true
		r.add(e)
		body := `{"success":false,"errors":[{"code":1000,"message":"Invalid API Token"}],"messages":[],"result":null}`
		return &http.Response{
			StatusCode: e.status, Status: "401 Unauthorized", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)), Request: req,
		}, nil
	}
	res, err := r.next.RoundTrip(req)
	if err != nil {
		e.err = err
		r.add(e)
		return nil, err
	}
	e.status = res.StatusCode
	if h := res.Header.Get("sl-violations"); h != "" {
		if jerr := json.Unmarshal([]byte(h), &e.violations); jerr != nil {
			e.violations = []prismViolation{{Location: []string{"sl-violations"}, Severity: "Error", Code: "unreadable", Message: h}}
		}
	}
	if res.StatusCode >= 400 {
		// Read the head of the answer, and give it back whole.
		head, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), res.Body), res.Body}
		e.body = string(head)
		var p struct{ Type, Title, Detail string }
		if json.Unmarshal(head, &p) == nil && strings.Contains(p.Type, "stoplight.io/prism/errors") {
			e.problem, e.problemType = fmt.Sprintf("%s: %s: %s", p.Type, p.Title, p.Detail), p.Type
		}
	}
	r.add(e)
	return res, nil
}

func (r *prismRecorder) add(e prismExchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exchanges = append(r.exchanges, e)
}

func (r *prismRecorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.exchanges)
}

func (r *prismRecorder) since(mark int) []prismExchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exchanges[mark:])
}

// reached reports whether Prism accepted a request of method to the spec's
// path template (a {parameter} matches one escaped segment).
func (r *prismRecorder) reached(method, template string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.exchanges {
		if e.synthetic || e.err != nil || e.refused() || e.method != method {
			continue
		}
		if path, _, _ := strings.Cut(e.path, "?"); templateMatch(template, path) >= 0 {
			return true
		}
	}
	return false
}
