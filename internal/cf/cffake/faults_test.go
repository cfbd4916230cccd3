package cffake_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

func TestFailNextThenSuccess(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("faults")
	srv.FailNext(2, http.StatusTooManyRequests, "3")

	for range 2 {
		r := a.put(ns, "k", "v").fails(t, 429, 971)
		if got := r.header.Get("Retry-After"); got != "3" {
			t.Fatalf("Retry-After = %q", got)
		}
	}
	// Failed writes changed nothing.
	a.value(ns, "k").fails(t, 404, 10009)
	a.put(ns, "k", "v").ok(t, nil)

	route := "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}"
	if n := srv.Count(route); n != 3 {
		t.Fatalf("Count(%s) = %d, want 3 (faulted requests count)", route, n)
	}
	var faulted []bool
	for _, r := range srv.Requests() {
		if r.Route == route {
			faulted = append(faulted, r.Faulted)
		}
	}
	if !slices.Equal(faulted, []bool{true, true, false}) {
		t.Fatalf("faulted = %v", faulted)
	}
}

func TestInjectMatchesMethodAndPrefix(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("inject")
	srv.Inject(1, cffake.Fault{
		Status:     http.StatusServiceUnavailable,
		RetryAfter: "1",
		Method:     http.MethodGet,
		PathPrefix: "/accounts/" + acct + "/r2",
		Header:     http.Header{"X-Should-Retry": {"true"}},
	})
	// Not matching: other method, other path.
	a.createBucket("spared")
	a.get(kvBase+"/"+ns).ok(t, nil)
	// Matching: answered by the fault, once.
	r := a.get(r2Base).fails(t, 503, 10001)
	if r.header.Get("Retry-After") != "1" || r.header.Get("X-Should-Retry") != "true" {
		t.Fatalf("headers = %v", r.header)
	}
	a.get(r2Base).ok(t, nil)

	srv.Inject(1, cffake.Fault{Status: http.StatusBadGateway, Body: "<html>bad gateway</html>"})
	r = a.get(kvBase)
	if r.status != 502 || string(r.body) != "<html>bad gateway</html>" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("HTML fault = %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}

	srv.Inject(1, cffake.Fault{Status: 403, Code: 10000, Message: "Authentication error"})
	a.get(kvBase).fails(t, 403, 10000)
	srv.Inject(1, cffake.Fault{Status: 500, Code: 12345, Message: "custom"})
	if r := a.get(kvBase).fails(t, 500, 12345); r.env.Errors[0].Message != "custom" {
		t.Fatalf("message = %q", r.env.Errors[0].Message)
	}

	srv.FailNext(5, 500, "")
	srv.ClearFaults()
	a.get(kvBase).ok(t, nil)
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("log")
	srv.ResetRequests()

	a.put(ns, url.PathEscape("a/b c"), "v", "expiration_ttl=60").ok(t, nil)
	a.as("").get(kvBase).fails(t, 400, 9106)
	a.get("/nowhere").fails(t, 404, 7003)

	log := srv.Requests()
	if len(log) != 3 {
		t.Fatalf("%d requests logged", len(log))
	}
	put := log[0]
	if put.Method != "PUT" || put.Path != kvBase+"/"+ns+"/values/a%2Fb%20c" || put.Query != "expiration_ttl=60" ||
		put.Status != 200 || put.ContentLength != 1 || put.Faulted ||
		put.Route != "PUT /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/values/{key_name}" {
		t.Fatalf("logged %+v", put)
	}
	if got := put.Header.Get("Authorization"); got != "Bearer [redacted]" {
		t.Fatalf("Authorization logged as %q", got)
	}
	for _, r := range log {
		for _, vs := range r.Header {
			for _, v := range vs {
				if strings.Contains(v, cffake.DefaultToken) {
					t.Fatalf("token in the log: %+v", r)
				}
			}
		}
	}
	if log[1].Route != "GET /accounts/{account_id}/storage/kv/namespaces" || log[1].Status != 400 {
		t.Fatalf("unauthenticated request logged as %+v", log[1])
	}
	if log[2].Route != "" || log[2].Status != 404 {
		t.Fatalf("unrouted request logged as %+v", log[2])
	}
	counts := srv.Counts()
	if counts["GET /accounts/{account_id}/storage/kv/namespaces"] != 1 || len(counts) != 2 {
		t.Fatalf("counts = %v", counts)
	}
	srv.ResetRequests()
	if len(srv.Requests()) != 0 || len(srv.Counts()) != 0 {
		t.Fatal("ResetRequests kept something")
	}
}

func TestRoutesAreListed(t *testing.T) {
	t.Parallel()
	srv := cffake.New()
	routes := srv.Routes()
	for _, want := range []string{
		"GET /accounts",
		"GET /user/tokens/verify",
		"GET /accounts/{account_id}/tokens/verify",
		"POST /accounts/{account_id}/storage/kv/namespaces/{namespace_id}/bulk/get",
		"DELETE /accounts/{account_id}/r2/buckets/{bucket_name}",
	} {
		if !slices.Contains(routes, want) {
			t.Fatalf("Routes() lacks %q", want)
		}
	}
	if !slices.IsSorted(routes) {
		t.Fatal("Routes() is not sorted")
	}
	if srv.URL() != "" || srv.BaseURL() != "" {
		t.Fatal("an unstarted fake has a URL")
	}
}

// TestSlowPacesTheBody checks Slow: the headers come at once, the body in
// chunks with pauses between them, whole; a stalled body stops after
// StallAfter bytes until the client gives up; other requests are not slowed.
func TestSlowPacesTheBody(t *testing.T) {
	t.Parallel()
	a, srv := newAPI(t)
	ns := a.createNamespace("slow")
	value := strings.Repeat("0123456789abcdef", 256) // 4 KiB
	a.put(ns, "k", value).ok(t, nil)
	values := "/accounts/" + acct + "/storage/kv/namespaces/" + ns + "/values/"

	srv.Slow(1, cffake.Pace{Method: http.MethodGet, PathPrefix: values, Chunk: 1 << 10, Every: 20 * time.Millisecond})
	res, err := srv.Client().Do(authorized(t, http.MethodGet, srv.BaseURL()+values+"k"))
	if err != nil {
		t.Fatal(err)
	}
	var reads []int
	buf := make([]byte, 4<<10)
	for {
		n, err := res.Body.Read(buf)
		if n > 0 {
			reads = append(reads, n)
		}
		if err != nil {
			break
		}
	}
	res.Body.Close()
	if len(reads) < 4 || sum(reads) != len(value) {
		t.Errorf("body read as %v, want 4 chunks of 1 KiB", reads)
	}
	// Used up: the next answer is whole at once.
	if got := a.value(ns, "k"); string(got.body) != value {
		t.Errorf("the next read got %d bytes", len(got.body))
	}

	srv.Slow(1, cffake.Pace{Method: http.MethodGet, PathPrefix: values, StallAfter: 1000})
	ctx, cancel := context.WithCancel(t.Context())
	req := authorized(t, http.MethodGet, srv.BaseURL()+values+"k").WithContext(ctx)
	res, err = srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(res.Body, 1000))
	if err != nil || len(got) != 1000 {
		t.Fatalf("before the stall: %d bytes, %v", len(got), err)
	}
	done := make(chan error, 1)
	go func() { _, err := res.Body.Read(buf); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("a read after StallAfter returned (%v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel() // the client gives up
	if err := <-done; err == nil {
		t.Error("the stalled read ended without an error")
	}
	res.Body.Close()
}

func authorized(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+cffake.DefaultToken)
	return req
}

func sum(ns []int) int {
	total := 0
	for _, n := range ns {
		total += n
	}
	return total
}
