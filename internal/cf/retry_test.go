package cf

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// recordWaits makes b's retries wait no time, and returns the waits they
// asked for.
func recordWaits(b *Backend) func() []time.Duration {
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	tr := b.http.Transport.(*retryTransport)
	tr.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return ctx.Err()
	}
	return func() []time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(waits)
	}
}

func TestRetry429ThenSuccess(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, func(c *Config) { c.AccountID = cffake.DefaultAccountID })
	waits := recordWaits(b)
	f.api.FailNext(1, http.StatusTooManyRequests, "7")
	if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{}); err != nil {
		t.Fatalf("ListNamespaces after one 429: %v", err)
	}
	if n := f.api.Count("GET /accounts/{account_id}/storage/kv/namespaces"); n != 2 {
		t.Errorf("%d requests, want 2: the 429 and its retry", n)
	}
	if got := waits(); !slices.Equal(got, []time.Duration{7 * time.Second}) {
		t.Errorf("waits %v, want the 7 s that Retry-After asked for", got)
	}

	// Without Retry-After: a jittered backoff within the policy's bounds.
	f.api.FailNext(2, http.StatusTooManyRequests, "")
	if _, err := b.KV().CreateNamespace(t.Context(), "after two 429s"); err != nil {
		t.Fatalf("CreateNamespace after two 429s: %v", err)
	}
	got := waits()[1:]
	if len(got) != 2 || got[0] < 500*time.Microsecond || got[0] > time.Millisecond || got[1] < time.Millisecond || got[1] > 2*time.Millisecond {
		t.Errorf("backoffs %v, want within [0.5, 1] ms then [1, 2] ms (base 1 ms)", got)
	}
}

func TestRetryReplaysTheBody(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	recordWaits(b)
	ns := mustNamespace(t, b, "replay")
	f.api.Inject(1, cffake.Fault{Status: 503, Method: "PUT"})
	mustPutValue(t, b, ns, storage.KVPut{Key: "k", Body: strings.NewReader("the whole value"), Size: 15,
		Metadata: []byte(`{"m":1}`)})
	if got, _ := readValue(t, b, ns, "k"); string(got) != "the whole value" {
		t.Errorf("after a retried write, value %q", got)
	}

	// A plain reader cannot be read twice: no retry.
	f.api.Inject(1, cffake.Fault{Status: 503, Method: "PUT"})
	err := b.KV().Put(t.Context(), ns, storage.KVPut{Key: "k2", Body: plainReader([]byte("once")), Size: 4})
	wantCode(t, err, storage.CodeUnavailable, "503")
}

func TestRetry5xxExhausted(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, func(c *Config) { c.AccountID = cffake.DefaultAccountID })
	waits := recordWaits(b)
	f.api.Inject(10, cffake.Fault{Status: 502, Body: "<html><body>502 Bad Gateway</body></html>"})
	_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	wantCode(t, err, storage.CodeUnavailable, "HTTP 502", "Bad Gateway", "try again later")
	if n := len(waits()); n != 3 {
		t.Errorf("%d retries, want 3 (4 attempts)", n)
	}
	if n := f.api.Count("GET /accounts/{account_id}/storage/kv/namespaces"); n != 4 {
		t.Errorf("%d requests, want 4", n)
	}
	f.api.ClearFaults()
}

func TestRetryNotForNonIdempotentPOST(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, func(c *Config) { c.AccountID = cffake.DefaultAccountID })
	recordWaits(b)
	f.api.Inject(1, cffake.Fault{Status: 500, Method: "POST"})
	_, err := b.KV().CreateNamespace(t.Context(), "maybe created")
	wantCode(t, err, storage.CodeUnavailable)
	if n := f.api.Count("POST /accounts/{account_id}/storage/kv/namespaces"); n != 1 {
		t.Errorf("a create that failed with 500 was sent %d times, want once", n)
	}

	// Bulk reads are POSTs that may be repeated.
	ns := mustNamespace(t, b, "bulk retry")
	f.api.Inject(1, cffake.Fault{Status: 500, Method: "POST"})
	if _, err := b.KV().BulkGet(t.Context(), ns, []string{"k"}, storage.BulkGetOptions{}); err != nil {
		t.Errorf("BulkGet after one 500: %v", err)
	}
}

func TestRetryAfterTooLong(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, func(c *Config) { c.AccountID = cffake.DefaultAccountID })
	waits := recordWaits(b)
	f.api.FailNext(1, http.StatusTooManyRequests, "3600")
	_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	wantCode(t, err, storage.CodeRateLimited, "rate limit", "1h0m0s")
	if n := len(waits()); n != 0 {
		t.Errorf("waited %v for a Retry-After of an hour", waits())
	}
}

func TestRetryTransportUnit(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	tr := newRetryTransport(nil, RetryPolicy{MaxRetryAfter: 2 * time.Minute}, slog.New(slog.DiscardHandler), time.Now)
	var waits []time.Duration
	tr.sleep = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	req, _ := http.NewRequest(http.MethodPut, srv.URL, strings.NewReader("payload"))
	res, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(got) != "payload" || res.StatusCode != 200 {
		t.Errorf("after a retry: %d %q", res.StatusCode, got)
	}
	if len(waits) != 1 || waits[0] < 80*time.Second || waits[0] > 91*time.Second {
		t.Errorf("waits %v, want about 90 s from an HTTP-date Retry-After", waits)
	}

	// A wait that would outlast the deadline is not begun.
	calls.Store(0)
	waits = nil
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	res, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || len(waits) != 0 {
		t.Errorf("status %d after waits %v, want the 503 at once", res.StatusCode, waits)
	}
}

// losingTransport passes requests to the fake, but loses the answer to the
// first one that lose matches: the fake has acted on it, the client sees a
// broken connection.
type losingTransport struct {
	base http.RoundTripper
	lose func(*http.Request) bool
	lost atomic.Bool
}

func (l *losingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := l.base.RoundTrip(req)
	if err != nil || !l.lose(req) || !l.lost.CompareAndSwap(false, true) {
		return res, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil, errors.New("read tcp: connection reset by peer")
}

// TestRetriedDeleteThatWorkedIsNoError loses the answer to a DELETE that
// Cloudflare carried out: its retry finds the thing gone, which is what was
// asked for, not not_found (issue 10, item 10). A delete of something that
// was never there, not retried, is still not_found.
func TestRetriedDeleteThatWorkedIsNoError(t *testing.T) {
	f := newFakeCloudflare(t)
	for _, c := range []struct {
		what   string
		create func(b *Backend) string
		delete func(b *Backend, id string) error
	}{
		{"KV namespace", func(b *Backend) string { return mustNamespace(t, b, "lost answer") },
			func(b *Backend, id string) error { return b.KV().DeleteNamespace(t.Context(), id) }},
		{"bucket", func(b *Backend) string {
			if _, err := b.R2().CreateBucket(t.Context(), storage.BucketSpec{Name: "lost-answer"}); err != nil {
				t.Fatal(err)
			}
			return "lost-answer"
		}, func(b *Backend, name string) error { return b.R2().DeleteBucket(t.Context(), name) }},
		{"D1 database", func(b *Backend) string {
			db, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "lost-answer"})
			if err != nil {
				t.Fatal(err)
			}
			return db.ID
		}, func(b *Backend, id string) error { return b.D1().DeleteDatabase(t.Context(), id) }},
	} {
		t.Run(c.what, func(t *testing.T) {
			lossy := &losingTransport{base: f.api.Client().Transport, lose: func(r *http.Request) bool { return r.Method == http.MethodDelete }}
			b := f.backend(t, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: lossy} })
			recordWaits(b)
			id := c.create(b)
			if err := c.delete(b, id); err != nil {
				t.Errorf("a delete whose first answer was lost: %v", err)
			}
			if !lossy.lost.Load() {
				t.Fatal("no answer was lost")
			}
			// Not retried: a missing one is reported.
			wantCode(t, c.delete(b, id), storage.CodeNotFound)
		})
	}
}
