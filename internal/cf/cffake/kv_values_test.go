package cffake_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fixedClock() cffake.Option {
	return cffake.WithClock(func() time.Time { return t0 })
}

func TestValueRoundTrip(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("values")

	binary := []byte{0, 1, 2, 0xff, 0xfe}
	a.put(ns, "bin", string(binary)).ok(t, nil)
	r := a.value(ns, "bin")
	if r.status != 200 || !bytes.Equal(r.body, binary) {
		t.Fatalf("GET = %d %q, want %q", r.status, r.body, binary)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	if r.header.Get("Expiration") != "" {
		t.Fatalf("a key without expiry has an expiration header")
	}

	// An empty value is a value.
	a.put(ns, "empty", "").ok(t, nil)
	if r := a.value(ns, "empty"); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("empty value: %d %q", r.status, r.body)
	}

	// Overwriting replaces the value.
	a.put(ns, "bin", "new").ok(t, nil)
	if r := a.value(ns, "bin"); string(r.body) != "new" {
		t.Fatalf("after overwrite: %q", r.body)
	}

	r = a.do(http.MethodDelete, kvBase+"/"+ns+"/values/bin", nil).ok(t, nil)
	if string(r.env.Result) != "null" {
		t.Fatalf("delete result = %s", r.env.Result)
	}
	a.value(ns, "bin").fails(t, 404, 10009)
	// Deleting again is fine: deletes are idempotent.
	a.do(http.MethodDelete, kvBase+"/"+ns+"/values/bin", nil).ok(t, nil)
	if msg := a.value(ns, "bin").env.Errors[0].Message; msg != "get: 'key not found'" {
		t.Fatalf("not-found message = %q", msg)
	}
}

func TestValueWithMetadataMultipart(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("meta")
	path := kvBase + "/" + ns + "/values/k"

	body, ct := multipartBody(t, []byte("hello"), `{"a": 1, "b": [true]}`)
	a.do(http.MethodPut, path, body, "Content-Type", ct).ok(t, nil)
	if r := a.value(ns, "k"); string(r.body) != "hello" {
		t.Fatalf("value = %q", r.body)
	}
	r := a.get(kvBase+"/"+ns+"/metadata/k").ok(t, nil)
	if string(r.env.Result) != `{"a":1,"b":[true]}` {
		t.Fatalf("metadata = %s", r.env.Result)
	}

	// Multipart without metadata, and a raw PUT, both clear it.
	body, ct = multipartBody(t, []byte("v2"), "")
	a.do(http.MethodPut, path, body, "Content-Type", ct).ok(t, nil)
	if r := a.get(kvBase+"/"+ns+"/metadata/k").ok(t, nil); string(r.env.Result) != "null" {
		t.Fatalf("metadata after multipart without it = %s", r.env.Result)
	}
	body, ct = multipartBody(t, []byte("v3"), `{"x":"y"}`)
	a.do(http.MethodPut, path, body, "Content-Type", ct).ok(t, nil)
	a.put(ns, "k", "raw").ok(t, nil)
	if r := a.get(kvBase+"/"+ns+"/metadata/k").ok(t, nil); string(r.env.Result) != "null" {
		t.Fatalf("metadata after raw PUT = %s", r.env.Result)
	}
	a.get(kvBase+"/"+ns+"/metadata/absent").fails(t, 404, 10009)

	// A value part sent as a plain form field works too.
	var buf bytes.Buffer
	buf.WriteString("--b\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\nfield\r\n--b--\r\n")
	a.do(http.MethodPut, path, &buf, "Content-Type", "multipart/form-data; boundary=b").ok(t, nil)
	if r := a.value(ns, "k"); string(r.body) != "field" {
		t.Fatalf("form-field value = %q", r.body)
	}
}

func TestValueWriteRejections(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t, fixedClock())
	ns := a.createNamespace("rejections")
	now := t0.Unix()
	path := kvBase + "/" + ns + "/values/"

	big := strings.Repeat("x", 25<<20)
	meta := func(n int) string { return `"` + strings.Repeat("m", n-2) + `"` } // JSON string of n bytes
	multipart := func(value []byte, metadata string) func() *response {
		return func() *response {
			body, ct := multipartBody(t, value, metadata)
			return a.do(http.MethodPut, path+"k", body, "Content-Type", ct)
		}
	}
	tests := []struct {
		name   string
		call   func() *response
		status int
		code   int // 0: success
	}{
		{"ttl 59", func() *response { return a.put(ns, "k", "v", "expiration_ttl=59") }, 400, 10034},
		{"ttl 0", func() *response { return a.put(ns, "k", "v", "expiration_ttl=0") }, 400, 10034},
		{"ttl negative", func() *response { return a.put(ns, "k", "v", "expiration_ttl=-60") }, 400, 10034},
		{"ttl not a number", func() *response { return a.put(ns, "k", "v", "expiration_ttl=soon") }, 400, 10034},
		{"ttl 60", func() *response { return a.put(ns, "k", "v", "expiration_ttl=60") }, 200, 0},
		{"expiration in the past", func() *response { return a.put(ns, "k", "v", fmt.Sprintf("expiration=%d", now-1)) }, 400, 10033},
		{"expiration now", func() *response { return a.put(ns, "k", "v", fmt.Sprintf("expiration=%d", now)) }, 400, 10033},
		{"expiration now+59", func() *response { return a.put(ns, "k", "v", fmt.Sprintf("expiration=%d", now+59)) }, 400, 10033},
		{"expiration now+60", func() *response { return a.put(ns, "k", "v", fmt.Sprintf("expiration=%d", now+60)) }, 200, 0},
		{"expiration in milliseconds", func() *response { return a.put(ns, "k", "v", fmt.Sprintf("expiration=%d", int64(1)<<53)) }, 400, 10033},
		{"ttl wins over a bad expiration", func() *response {
			return a.put(ns, "k", "v", "expiration_ttl=120", fmt.Sprintf("expiration=%d", now-100))
		}, 200, 0},
		{"value of 25 MiB", func() *response { return a.put(ns, "k", big) }, 200, 0},
		{"value of 25 MiB + 1", func() *response { return a.put(ns, "k", big+"x") }, 413, 10024},
		{"multipart value of 25 MiB + 1", multipart([]byte(big+"x"), ""), 413, 10024},
		{"metadata of 1024 bytes", multipart([]byte("v"), meta(1024)), 200, 0},
		{"metadata of 1025 bytes", multipart([]byte("v"), meta(1025)), 413, 10024},
		{"metadata not JSON", multipart([]byte("v"), "{nope"), 400, 10029},
		{"multipart without value", multipart(nil, `{"a":1}`), 400, 10012},
		{"multipart without boundary", func() *response {
			return a.do(http.MethodPut, path+"k", strings.NewReader("x"), "Content-Type", "multipart/form-data")
		}, 400, 10012},
		{"key of 512 bytes", func() *response { return a.put(ns, strings.Repeat("k", 512), "v") }, 200, 0},
		{"key of 513 bytes", func() *response { return a.put(ns, strings.Repeat("k", 513), "v") }, 414, 10030},
		{"key of 513 bytes, escaped", func() *response { return a.put(ns, strings.Repeat("%C3%A9", 256)+"k", "v") }, 414, 10030},
		{"key .", func() *response { return a.put(ns, "%2E", "v") }, 400, 10023},
		{"key ..", func() *response { return a.put(ns, "%2E%2E", "v") }, 400, 10023},
		{"empty key", func() *response { return a.put(ns, "", "v") }, 400, 10023},
		{"namespace that does not exist", func() *response { return a.put(strings.Repeat("0", 32), "k", "v") }, 404, 10013},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.call()
			if tt.code == 0 {
				r.ok(t, nil)
				return
			}
			r.fails(t, tt.status, tt.code)
		})
	}
}

// A rejected write changes nothing.
func TestRejectedWriteKeepsOldValue(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("keep")
	a.put(ns, "k", "old").ok(t, nil)
	a.put(ns, "k", "new", "expiration_ttl=1").fails(t, 400, 10034)
	a.put(ns, "k", strings.Repeat("x", 25<<20+1)).fails(t, 413, 10024)
	if r := a.value(ns, "k"); string(r.body) != "old" {
		t.Fatalf("value = %q after rejected writes", r.body)
	}
}

func TestExpirationFollowsClock(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t, fixedClock())
	ns := a.createNamespace("expiry")
	now := t0.Unix()

	a.put(ns, "ttl", "v", "expiration_ttl=120").ok(t, nil)
	a.put(ns, "abs", "v", fmt.Sprintf("expiration=%d", now+600)).ok(t, nil)
	body, ct := multipartBody(t, []byte("v"), `{"m":1}`)
	a.do(http.MethodPut, kvBase+"/"+ns+"/values/meta?expiration_ttl=60", body, "Content-Type", ct).ok(t, nil)
	a.put(ns, "forever", "v").ok(t, nil)

	if got := a.value(ns, "ttl").header.Get("Expiration"); got != strconv.FormatInt(now+120, 10) {
		t.Fatalf("expiration header = %q, want %d", got, now+120)
	}
	keys, _ := a.keys(ns, "")
	if len(keys) != 4 || keys[0].Name != "abs" || keys[0].Expiration != now+600 || keys[1].Expiration != 0 {
		t.Fatalf("keys = %+v", keys)
	}

	srv.Advance(2 * time.Minute) // ttl and meta expire exactly now
	a.value(ns, "ttl").fails(t, 404, 10009)
	a.get(kvBase+"/"+ns+"/metadata/meta").fails(t, 404, 10009)
	a.value(ns, "abs").ok200(t)
	keys, _ = a.keys(ns, "")
	if got := strings.Join(names(keys), ","); got != "abs,forever" {
		t.Fatalf("keys after 2 minutes = %s", got)
	}
	var got map[string]map[string]any
	a.json(http.MethodPost, kvBase+"/"+ns+"/bulk/get", map[string]any{"keys": []string{"ttl", "abs"}}).ok(t, &got)
	if v, found := got["values"]["ttl"]; !found || v != nil {
		t.Fatalf("bulk get of an expired key = %v", got)
	}

	srv.Advance(10 * time.Minute)
	keys, _ = a.keys(ns, "")
	if got := strings.Join(names(keys), ","); got != "forever" {
		t.Fatalf("keys after 12 minutes = %s", got)
	}
}

// ok200 checks a raw (non-envelope) 200.
func (r *response) ok200(t *testing.T) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("want 200, got %d: %s", r.status, r.body)
	}
}

// A body over the limit sent without a declared length is still measured
// and refused, and the client reads the answer rather than a broken pipe.
func TestOversizeStreamedValue(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	ns := a.createNamespace("stream")
	body := io.MultiReader(strings.NewReader(strings.Repeat("x", 25<<20)), strings.NewReader("xy"))
	req, _ := http.NewRequest(http.MethodPut, a.srv.BaseURL()+kvBase+"/"+ns+"/values/k", io.NopCloser(body))
	req.Header.Set("Authorization", "Bearer "+cffake.DefaultToken)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 413 || !strings.Contains(string(data), "Value length of 26214402 exceeds limit of 26214400.") {
		t.Fatalf("got %d %s", res.StatusCode, data)
	}
}
