package explorer_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/wrangler/explorer"
)

// fakeExplorer answers the probe as the Local Explorer does, and hands
// every other request to h.
func fakeExplorer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == explorer.Paths[0] {
			io.WriteString(w, `{"openapi":"3.0.3","info":{"title":"Local Explorer API"}}`)
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// reset reads the request's body whole, then resets the connection
// instead of answering.
func reset(writes *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil && r.Method != http.MethodGet {
			writes.Add(1)
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	}
}

func probe(t *testing.T, srv *httptest.Server) *explorer.Store {
	t.Helper()
	s, err := explorer.Probe(context.Background(), srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestNoAnswer: a connection reset after dev read a write whole is
// ErrNoAnswer that says the outcome is unknown (never that nothing
// changed); a reset read is ErrNoAnswer too; both are found with errors.Is,
// not by their text.
func TestNoAnswer(t *testing.T) {
	ctx := context.Background()
	var writes atomic.Int32
	s := probe(t, fakeExplorer(t, reset(&writes)))
	for name, put := range map[string]storage.KVPut{
		"plain":      {Key: "k", Body: strings.NewReader("abc"), Size: 3},
		"metadata":   {Key: "k", Body: strings.NewReader("abc"), Size: 3, Metadata: []byte(`{"a":1}`)},
		"expiration": {Key: "k", Body: strings.NewReader("abc"), Size: 3, Expiry: storage.Expiry{TTL: 3600}},
	} {
		err := s.Put(ctx, "0f2ac74b498b48028cb68387c421e279", put)
		if !errors.Is(err, explorer.ErrNoAnswer) || !errors.Is(err, storage.ErrUnavailable) ||
			!strings.Contains(err.Error(), "whether it was applied is unknown") || strings.Contains(err.Error(), "nothing changed") {
			t.Errorf("%s: Put after the write was sent: %v", name, err)
		}
	}
	if writes.Load() != 3 {
		t.Errorf("the server read %d writes whole, want 3", writes.Load())
	}
	_, err := s.HeadObject(ctx, "b", "k")
	if !errors.Is(err, explorer.ErrNoAnswer) || strings.Contains(err.Error(), "unknown") {
		t.Errorf("a read: %v", err)
	}
}

// TestCallerBody: a body shorter than announced, or one whose reader
// fails, is the caller's invalid_argument naming the field, never dev not
// answering; no write reaches the server whole.
func TestCallerBody(t *testing.T) {
	ctx := context.Background()
	var writes atomic.Int32
	s := probe(t, fakeExplorer(t, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			writes.Add(1)
		}
		io.WriteString(w, `{"success":true,"errors":[],"result":{}}`)
	}))
	failing := io.MultiReader(strings.NewReader("ab"), iotest{errors.New("disk gone")})
	for name, put := range map[string]storage.KVPut{
		"plain short":      {Key: "k", Body: strings.NewReader("ab"), Size: 3},
		"metadata short":   {Key: "k", Body: strings.NewReader("ab"), Size: 3, Metadata: []byte(`{"a":1}`)},
		"expiration short": {Key: "k", Body: strings.NewReader("ab"), Size: 3, Expiry: storage.Expiry{TTL: 3600}},
		"plain failing":    {Key: "k", Body: failing, Size: 3},
	} {
		err := s.Put(ctx, "0f2ac74b498b48028cb68387c421e279", put)
		if !errors.Is(err, storage.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "invalid_argument: value: ") || errors.Is(err, explorer.ErrNoAnswer) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err := s.PutObject(ctx, storage.ObjectPut{Bucket: "b", Key: "k", Body: strings.NewReader("ab"), Size: 3})
	if !errors.Is(err, storage.ErrInvalidArgument) || !strings.HasPrefix(err.Error(), "invalid_argument: content: ") {
		t.Errorf("PutObject short: %v", err)
	}
	if writes.Load() != 0 {
		t.Errorf("%d writes reached the server whole", writes.Load())
	}
}

type iotest struct{ err error }

func (r iotest) Read([]byte) (int, error) { return 0, r.err }

// TestHangingDev: a dev that takes a call and never answers, or starts an
// answer and stops sending it, fails the call as unavailable (ErrNoAnswer
// for the first) instead of holding it forever.
func TestHangingDev(t *testing.T) {
	ctx := context.Background()
	srv := fakeExplorer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.Contains(r.URL.Path, "stall") {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"success": true, "result": [`)
			w.(http.Flusher).Flush()
		}
		<-r.Context().Done()
	})
	s, err := explorer.Probe(ctx, srv.URL, srv.Client(), explorer.WithTimeouts(explorer.Timeouts{Answer: 50 * time.Millisecond, Stall: 50 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	stmts := []storage.Statement{{SQL: "SELECT 1"}}
	_, err = s.Query(ctx, "4f0b8a3e-2d1c-4e5f-9a6b-7c8d9e0f1a2b", stmts, storage.QueryOptions{})
	if !errors.Is(err, explorer.ErrNoAnswer) || !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Errorf("no answer: %v", err)
	}
	_, err = s.Query(ctx, "stall", stmts, storage.QueryOptions{})
	if !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "stopped arriving") {
		t.Errorf("an answer that stops: %v", err)
	}
}
