package cffake_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

type bulkResult struct {
	SuccessfulKeyCount int      `json:"successful_key_count"`
	UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
}

func TestBulkWrite(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, fixedClock())
	ns := a.createNamespace("bulk")
	entries := []map[string]any{
		{"key": "plain", "value": "text"},
		{"key": "b64", "value": base64.StdEncoding.EncodeToString([]byte{0, 255, 1}), "base64": true},
		{"key": "ttl", "value": "v", "expiration_ttl": 300, "metadata": map[string]any{"k": "v"}},
		{"key": "abs", "value": "v", "expiration": t0.Unix() + 1000},
		{"key": "both", "value": "v", "expiration_ttl": 120, "expiration": 1},
		{"key": "meta-number", "value": "v", "metadata": 123},
		{"key": "null-meta", "value": "v", "metadata": nil},
	}
	var res bulkResult
	a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", entries).ok(t, &res)
	if res.SuccessfulKeyCount != len(entries) || res.UnsuccessfulKeys == nil || len(res.UnsuccessfulKeys) != 0 {
		t.Fatalf("result = %+v", res)
	}
	if r := a.value(ns, "b64"); string(r.body) != "\x00\xff\x01" {
		t.Fatalf("base64 value = %q", r.body)
	}
	if r := a.value(ns, "plain"); string(r.body) != "text" {
		t.Fatalf("plain value = %q", r.body)
	}
	keys, _ := a.keys(ns, "")
	byName := map[string]keyInfo{}
	for _, k := range keys {
		byName[k.Name] = k
	}
	if k := byName["ttl"]; k.Expiration != t0.Unix()+300 || string(k.Metadata) != `{"k":"v"}` {
		t.Fatalf("ttl = %+v", k)
	}
	if k := byName["abs"]; k.Expiration != t0.Unix()+1000 {
		t.Fatalf("abs = %+v", k)
	}
	if k := byName["both"]; k.Expiration != t0.Unix()+120 {
		t.Fatalf("expiration_ttl must win: %+v", k)
	}
	if k := byName["meta-number"]; string(k.Metadata) != "123" {
		t.Fatalf("meta-number = %+v", k)
	}
	if k := byName["null-meta"]; k.Metadata != nil {
		t.Fatalf("null metadata stored: %+v", k)
	}
}

func TestBulkWriteRejectionsChangeNothing(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, fixedClock())
	ns := a.createNamespace("bulk-rejections")
	good := map[string]any{"key": "good", "value": "v"}
	big := strings.Repeat("x", 25<<20)
	tests := []struct {
		name   string
		entry  map[string]any
		status int
		code   int
	}{
		{"ttl 30", map[string]any{"key": "k", "value": "v", "expiration_ttl": 30}, 400, 10034},
		{"expiration past", map[string]any{"key": "k", "value": "v", "expiration": t0.Unix() - 5}, 400, 10033},
		{"bad base64", map[string]any{"key": "k", "value": "%%%", "base64": true}, 400, 10012},
		{"missing value", map[string]any{"key": "k"}, 400, 10012},
		{"missing key", map[string]any{"value": "v"}, 400, 10023},
		{"key ..", map[string]any{"key": "..", "value": "v"}, 400, 10023},
		{"key of 513 bytes", map[string]any{"key": strings.Repeat("k", 513), "value": "v"}, 414, 10030},
		{"value over 25 MiB", map[string]any{"key": "k", "value": big + "x"}, 413, 10024},
		{"metadata over 1024 bytes", map[string]any{"key": "k", "value": "v", "metadata": strings.Repeat("m", 1023)}, 413, 10024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", []any{good, tt.entry}).fails(t, tt.status, tt.code)
		})
	}
	a.do(http.MethodPut, kvBase+"/"+ns+"/bulk", strings.NewReader(`{"key":"k"}`)).fails(t, 400, 6007)
	a.do(http.MethodPut, kvBase+"/"+ns+"/bulk", strings.NewReader(`[{"key":"k","value":"v"}`)).fails(t, 400, 6007)
	if keys, _ := a.keys(ns, ""); len(keys) != 0 {
		t.Fatalf("rejected bulk writes wrote %v", names(keys))
	}
	a.json(http.MethodPut, kvBase+"/"+strings.Repeat("9", 32)+"/bulk", []any{good}).fails(t, 404, 10013)
}

func TestBulkLimits(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("limits")
	entries := func(n int) []map[string]string {
		out := make([]map[string]string, n)
		for i := range out {
			out[i] = map[string]string{"key": fmt.Sprintf("k%05d", i), "value": "v"}
		}
		return out
	}
	keys := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("k%05d", i)
		}
		return out
	}

	var res bulkResult
	a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", entries(10_000)).ok(t, &res)
	if res.SuccessfulKeyCount != 10_000 {
		t.Fatalf("wrote %d", res.SuccessfulKeyCount)
	}
	a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", entries(10_001)).fails(t, 413, 10024)

	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", keys(10_001)).fails(t, 413, 10024)
	a.json(http.MethodDelete, kvBase+"/"+ns+"/bulk", keys(10_001)).fails(t, 413, 10024)
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", keys(10_000)).ok(t, &res)
	if res.SuccessfulKeyCount != 10_000 {
		t.Fatalf("deleted %d", res.SuccessfulKeyCount)
	}
	if left, _ := a.keys(ns, ""); len(left) != 0 {
		t.Fatalf("%d keys left", len(left))
	}
}

// A bulk write body over 100 MB is refused by its size, whatever it holds,
// and the client gets the answer.
func TestBulkWriteBodyOver100MB(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("huge")
	const size = 100_000_001
	body := io.LimitReader(infiniteSpaces{}, size)
	req, _ := http.NewRequest(http.MethodPut, a.srv.BaseURL()+kvBase+"/"+ns+"/bulk", body)
	req.ContentLength = size
	req.Header.Set("Authorization", "Bearer "+cffake.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env envelope
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 413 || env.Errors[0].Code != 10024 {
		t.Fatalf("got %d %+v", res.StatusCode, env.Errors)
	}
}

type infiniteSpaces struct{}

func (infiniteSpaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func TestBulkDelete(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("delete")
	for _, k := range []string{"a", "b", "c", "d"} {
		a.put(ns, k, "v").ok(t, nil)
	}
	var res bulkResult
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", []string{"a", "missing"}).ok(t, &res)
	if res.SuccessfulKeyCount != 2 {
		t.Fatalf("result = %+v", res)
	}
	// The deprecated form does the same.
	a.json(http.MethodDelete, kvBase+"/"+ns+"/bulk", []string{"b"}).ok(t, &res)
	keys, _ := a.keys(ns, "")
	if got := strings.Join(names(keys), ","); got != "c,d" {
		t.Fatalf("left = %s", got)
	}
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", []string{"c", ""}).fails(t, 400, 10023)
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", []int{1}).fails(t, 400, 6007)
	if keys, _ := a.keys(ns, ""); len(keys) != 2 {
		t.Fatalf("a rejected bulk delete deleted: %v", names(keys))
	}
}

func TestFailBulkKeys(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("partial")
	a.put(ns, "stuck", "old").ok(t, nil)
	srv.FailBulkKeys("stuck", "never")

	var res bulkResult
	a.json(http.MethodPut, kvBase+"/"+ns+"/bulk", []map[string]string{
		{"key": "ok", "value": "v"}, {"key": "stuck", "value": "new"}, {"key": "never", "value": "v"},
	}).ok(t, &res)
	if res.SuccessfulKeyCount != 1 || !slices.Equal(res.UnsuccessfulKeys, []string{"stuck", "never"}) {
		t.Fatalf("result = %+v", res)
	}
	if r := a.value(ns, "stuck"); string(r.body) != "old" {
		t.Fatalf("an unsuccessful key was written: %q", r.body)
	}
	a.value(ns, "never").fails(t, 404, 10009)

	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", []string{"ok", "stuck"}).ok(t, &res)
	if res.SuccessfulKeyCount != 1 || !slices.Equal(res.UnsuccessfulKeys, []string{"stuck"}) {
		t.Fatalf("delete result = %+v", res)
	}
	srv.FailBulkKeys()
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/delete", []string{"stuck"}).ok(t, &res)
	if res.SuccessfulKeyCount != 1 {
		t.Fatalf("after clearing: %+v", res)
	}
}

func TestBulkGet(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, fixedClock())
	ns := a.createNamespace("bulk-get")
	a.put(ns, "text", "hello").ok(t, nil)
	a.put(ns, "json", `{"n": [1, 2]}`).ok(t, nil)
	body, ct := multipartBody(t, []byte(`"s"`), `{"m":true}`)
	a.do(http.MethodPut, kvBase+"/"+ns+"/values/meta?expiration_ttl=600", body, "Content-Type", ct).ok(t, nil)
	get := kvBase + "/" + ns + "/bulk/get"

	type result struct {
		Values map[string]json.RawMessage `json:"values"`
	}
	var r result
	a.json(http.MethodPost, get, map[string]any{"keys": []string{"text", "json", "missing"}}).ok(t, &r)
	if string(r.Values["text"]) != `"hello"` || string(r.Values["json"]) != `"{\"n\": [1, 2]}"` || string(r.Values["missing"]) != "null" {
		t.Fatalf("text values = %v", r.Values)
	}

	r = result{}
	a.json(http.MethodPost, get, map[string]any{"keys": []string{"json", "meta", "missing"}, "type": "json"}).ok(t, &r)
	if len(r.Values) != 3 || string(r.Values["json"]) != `{"n":[1,2]}` || string(r.Values["meta"]) != `"s"` || string(r.Values["missing"]) != "null" {
		t.Fatalf("json values = %v", r.Values)
	}

	r = result{}
	a.json(http.MethodPost, get, map[string]any{"keys": []string{"text", "meta", "missing"}, "withMetadata": true}).ok(t, &r)
	want := map[string]string{
		"text":    `{"value":"hello","metadata":null}`,
		"meta":    fmt.Sprintf(`{"value":"\"s\"","metadata":{"m":true},"expiration":%d}`, t0.Unix()+600),
		"missing": "null",
	}
	for k, w := range want {
		if got := string(r.Values[k]); got != w {
			t.Fatalf("withMetadata %s = %s, want %s", k, got, w)
		}
	}
}

func TestBulkGetRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("bulk-get-rejections")
	a.put(ns, "text", "not json").ok(t, nil)
	a.put(ns, "bin", "\xff\xfe").ok(t, nil)
	get := kvBase + "/" + ns + "/bulk/get"
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("k%d", i)
	}
	tests := []struct {
		name   string
		body   any
		status int
		code   int
	}{
		{"no keys", map[string]any{"keys": []string{}}, 400, 10029},
		{"keys missing", map[string]any{}, 400, 10029},
		{"101 keys", map[string]any{"keys": many}, 400, 10029},
		{"unknown type", map[string]any{"keys": []string{"text"}, "type": "arrayBuffer"}, 400, 10029},
		{"json of a non-JSON value", map[string]any{"keys": []string{"text"}, "type": "json"}, 400, 10029},
		{"text of a binary value", map[string]any{"keys": []string{"bin"}}, 400, 10029},
		{"key of 513 bytes", map[string]any{"keys": []string{strings.Repeat("k", 513)}}, 414, 10030},
		{"keys not an array", map[string]any{"keys": "text"}, 400, 6007},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a.json(http.MethodPost, get, tt.body).fails(t, tt.status, tt.code)
		})
	}
	a.json(http.MethodPost, get, map[string]any{"keys": many[:100]}).ok(t, nil)
}
