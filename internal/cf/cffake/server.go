package cffake

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BasePath is where the fake serves the API, as Cloudflare does at
// https://api.cloudflare.com/client/v4.
const BasePath = "/client/v4"

// maxDrain bounds how much of an unread request body the fake reads and
// discards before answering. Draining first means a client still sending a
// large body (a rejected 100 MB bulk write, say) reads the answer instead of
// a reset connection; the bound keeps a runaway client from holding the
// fake forever.
const maxDrain = 512 << 20

// Server is a fake Cloudflare API. Create it with New or Start.
type Server struct {
	// Fixed at New.
	accounts map[string]*accountState // contents guarded by mu
	order    []string                 // account ids in configured order
	tokens   map[string]*Token        // by value
	hooks    BucketHooks
	routes   []route
	clock    func() time.Time
	offset   atomic.Int64 // nanoseconds added by Advance

	mu       sync.Mutex // guards the stored data and failBulk
	failBulk map[string]bool

	ctl    sync.Mutex // guards the request log, counts and faults
	log    []Request
	counts map[string]int
	faults []*faultRule
	paces  []*paceRule

	ts *httptest.Server // set by Start
}

// New returns a fake that is not listening; serve it with Handler. It panics
// on an invalid option (an account id that is not 32 hex digits, a token
// scoped to an unknown account…): the mistake is in the test.
func New(opts ...Option) *Server {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		panic("cffake: " + err.Error())
	}
	s := &Server{
		accounts: map[string]*accountState{},
		tokens:   map[string]*Token{},
		hooks:    c.hooks,
		routes:   routeTable(),
		clock:    c.now,
		failBulk: map[string]bool{},
		counts:   map[string]int{},
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	created := s.Now().UTC().Truncate(time.Second)
	for _, a := range c.accounts {
		s.accounts[a.ID] = newAccountState(a, created)
		s.order = append(s.order, a.ID)
	}
	for _, t := range c.tokens {
		// Copies, so the test's slices cannot change the fake under it.
		t.Permissions = slices.Clone(t.Permissions)
		t.Accounts = slices.Clone(t.Accounts)
		if t.ID == "" {
			t.ID = TokenID(t.Value)
		}
		if t.Status == "" {
			t.Status = TokenActive
		}
		s.tokens[t.Value] = &t
	}
	return s
}

// Start returns a fake listening on a loopback port, closed when the test
// ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	s.ts = httptest.NewServer(s)
	t.Cleanup(s.Close)
	return s
}

// Handler returns the fake as an http.Handler that serves the API under
// BasePath.
func (s *Server) Handler() http.Handler { return s }

// URL is the root URL of a fake made by Start, like httptest.Server.URL;
// empty for one made by New.
func (s *Server) URL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL
}

// BaseURL is the API base to give a client (CLOUDFLARE_BASE_URL): URL()
// followed by BasePath.
func (s *Server) BaseURL() string {
	if s.ts == nil {
		return ""
	}
	return s.ts.URL + BasePath
}

// Client returns an HTTP client for a fake made by Start.
func (s *Server) Client() *http.Client {
	if s.ts == nil {
		return http.DefaultClient
	}
	return s.ts.Client()
}

// Close stops a fake made by Start and drops its D1 databases, which live
// in memory until then. Tests need not call it: Start registers it as a
// cleanup. A fake made by New that created D1 databases should be closed
// too; closing twice is harmless.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
	s.closeDatabases()
}

// Now is the fake's current time: its clock plus every Advance.
func (s *Server) Now() time.Time {
	return s.clock().Add(time.Duration(s.offset.Load()))
}

// Advance moves the fake's clock forward, so that KV keys and tokens expire
// without the test waiting.
func (s *Server) Advance(d time.Duration) {
	s.offset.Add(int64(d))
}

// FailBulkKeys makes KV bulk writes and bulk deletes report these keys in
// unsuccessful_keys and leave them unchanged, as Cloudflare does for keys it
// could not write; the others succeed. With no keys it stops doing so.
func (s *Server) FailBulkKeys(keys ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failBulk = map[string]bool{}
	for _, k := range keys {
		s.failBulk[k] = true
	}
}

// SetBucketObjectCount records that a bucket holds n objects, so that
// deleting it fails with 409 (code 10008) while n > 0. Objects themselves
// live in the S3 API, which the fake does not serve. jurisdiction "" means
// "default".
func (s *Server) SetBucketObjectCount(accountID, jurisdiction, name string, n int) error {
	if jurisdiction == "" {
		jurisdiction = jurisdictionDefault
	}
	a := s.accounts[accountID]
	if a == nil {
		return fmt.Errorf("cffake: no account %q", accountID)
	}
	key := bucketKey{jurisdiction: jurisdiction, name: name}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.buckets[key] == nil {
		return fmt.Errorf("cffake: no bucket %q in jurisdiction %q of account %q", name, jurisdiction, accountID)
	}
	a.objectCounts[key] = n
	return nil
}

// ServeHTTP serves one API request: it routes it, applies an injected fault
// if one matches, authenticates it, runs the handler, drains what is left of
// the body, answers, and logs the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rep, routeKey, faulted := s.dispatch(r)
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
	if p := s.takePace(r.Method, belowBase(r.URL.EscapedPath())); p != nil {
		w = &pacedWriter{ResponseWriter: w, ctx: r.Context(), pace: *p}
	}
	sw := &statusWriter{ResponseWriter: w}
	rep.write(sw)
	s.logRequest(r, routeKey, sw.status, faulted)
}

// statusWriter remembers the status written, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
