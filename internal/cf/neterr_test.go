package cf

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// counting counts the requests that leave for the network.
type counting struct {
	n    atomic.Int32
	base http.RoundTripper
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(req)
}

// closedPort is a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// unreachable are the set-ups in which the API cannot answer: each names its
// cause and what to change, and none is retried, since none can pass by
// itself.
func unreachable(t *testing.T) []struct{ name, baseURL, cause, fix string } {
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // it logs every refused handshake
	tlsSrv.StartTLS()                                   // with a self-signed certificate
	t.Cleanup(tlsSrv.Close)
	return []struct{ name, baseURL, cause, fix string }{
		{"connection refused", "http://" + closedPort(t) + "/client/v4", "refused: nothing listens there", "CLOUDFLARE_BASE_URL"},
		// .invalid never resolves (RFC 6761): the resolver answers at once.
		{"DNS", "https://nonexistent.invalid/client/v4", "cannot resolve nonexistent.invalid (DNS)", "CLOUDFLARE_BASE_URL"},
		{"TLS", tlsSrv.URL + "/client/v4", "TLS certificate of " + strings.TrimPrefix(tlsSrv.URL, "https://") + " is not trusted", "trust store"},
	}
}

func unreachableBackend(t *testing.T, baseURL, accountID string) (*Backend, *counting) {
	t.Helper()
	return unreachableVia(t, baseURL, accountID, http.DefaultTransport.(*http.Transport).Clone())
}

func unreachableVia(t *testing.T, baseURL, accountID string, base *http.Transport) (*Backend, *counting) {
	t.Helper()
	c := &counting{base: base}
	// The default retry policy: were these retried, it would wait seconds.
	b, err := New(Config{APIToken: cffake.DefaultToken, AccountID: accountID, BaseURL: baseURL,
		HTTPClient: &http.Client{Transport: c}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, c
}

// check with the API out of reach reports that, with its cause and fix, as
// its one failure, and skips the rest rather than blaming the token or
// passing the account; one request is made (issue 12, item 5).
func TestCheckUnreachable(t *testing.T) {
	for _, tc := range unreachable(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, reqs := unreachableBackend(t, tc.baseURL, cffake.DefaultAccountID)
			findings := b.Check(context.Background())
			if len(findings) != 7 {
				t.Fatalf("%d findings: %+v", len(findings), findings)
			}
			f := findings[0]
			if f.Name != checkAPI || f.OK || f.Skipped || !strings.Contains(f.Detail, tc.cause) || !strings.Contains(f.Fix, tc.fix) {
				t.Errorf("first finding = %+v, want the API unreachable: %s; fix naming %s", f, tc.cause, tc.fix)
			}
			if strings.Contains(f.Fix, "create an API token") || strings.Contains(f.Fix, "permission") {
				t.Errorf("the fix blames the token: %s", f.Fix)
			}
			for _, f := range findings[1:] {
				if f.OK || !f.Skipped || !strings.HasPrefix(f.Detail, "not checked: ") {
					t.Errorf("%s = %+v, want skipped", f.Name, f)
				}
			}
			if n := reqs.n.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (no retries)", n)
			}
		})
	}
}

// A tool call meets the same: one request, and an error that names the
// cause and the fix once.
func TestCallUnreachable(t *testing.T) {
	for _, tc := range unreachable(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, reqs := unreachableBackend(t, tc.baseURL, cffake.DefaultAccountID)
			_, err := b.KV().ListNamespaces(context.Background(), storage.ListOptions{})
			text := storage.Describe(err)
			if storage.CodeOf(err) != storage.CodeUnavailable || strings.Count(text, tc.cause) != 1 || !strings.Contains(text, tc.fix) {
				t.Errorf("error = %s, want unavailable naming %q and %q once", text, tc.cause, tc.fix)
			}
			if n := reqs.n.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (no retries)", n)
			}
		})
	}
}

// A configured account counts as verified only when a call in it
// succeeded; one no call reaches fails, naming CLOUDFLARE_ACCOUNT_ID.
func TestCheckAccountVerified(t *testing.T) {
	f := newFakeCloudflare(t)
	good := f.backend(t, func(c *Config) { c.AccountID = cffake.DefaultAccountID })
	defer good.Close()
	for _, fd := range good.Check(context.Background()) {
		if fd.Name == checkAccount && (!fd.OK || !strings.Contains(fd.Detail, "answered")) {
			t.Errorf("a working account: %+v", fd)
		}
	}
	wrong := f.backend(t, func(c *Config) { c.AccountID = "0123456789abcdef0123456789abcdef" })
	defer wrong.Close()
	for _, fd := range wrong.Check(context.Background(), storage.AreaR2) {
		if fd.Name == checkAccount && (fd.OK || !strings.Contains(fd.Fix, "CLOUDFLARE_ACCOUNT_ID")) {
			t.Errorf("an account no call reaches: %+v", fd)
		}
	}
	// Serving no area, the account is not tried, and not called ok.
	for _, fd := range wrong.Check(context.Background(), storage.AreaKV, storage.AreaR2, storage.AreaD1) {
		if fd.Name == checkAccount && (fd.OK || !fd.Skipped) {
			t.Errorf("an account nothing tried: %+v", fd)
		}
	}
}

// Describe (whoami) answers with the API out of reach: the account as
// configured, and the reachability with its cause, in one request.
func TestDescribeUnreachable(t *testing.T) {
	for _, tc := range unreachable(t) {
		t.Run(tc.name, func(t *testing.T) {
			b, reqs := unreachableBackend(t, tc.baseURL, cffake.DefaultAccountID)
			d, err := b.Describe(context.Background())
			if err != nil {
				t.Fatalf("Describe: %v", err)
			}
			if d.Backend != "cloudflare" || d.AccountID != cffake.DefaultAccountID || d.APIReachable == nil || *d.APIReachable ||
				!strings.Contains(d.APIError, tc.cause) || d.TokenStatus != "" {
				t.Errorf("description = %+v", d)
			}
			if n := reqs.n.Load(); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
	// An API that answers is reachable, whether it takes the token or not.
	f := newFakeCloudflare(t)
	good := f.backend(t, nil)
	defer good.Close()
	if d, err := good.Describe(context.Background()); err != nil || d.APIReachable == nil || !*d.APIReachable || d.TokenStatus != "active" || d.APIError != "" {
		t.Errorf("a healthy account: %+v, %v", d, err)
	}
	bad := f.backend(t, func(c *Config) { c.APIToken = "not-a-token-of-this-account-00000000000000" })
	defer bad.Close()
	if d, err := bad.Describe(context.Background()); err != nil || d.APIReachable == nil || !*d.APIReachable || !strings.Contains(d.APIError, "permission_denied") {
		t.Errorf("a refused token: %+v, %v", d, err)
	}
}

// A proxy that does not answer is named as the cause, with the variables
// that choose it, and not retried. (The proxy is set on the transport:
// net/http reads HTTPS_PROXY once per process.)
func TestCheckProxyUnreachable(t *testing.T) {
	proxy := closedPort(t)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})
	b, reqs := unreachableVia(t, "https://api.cloudflare.com/client/v4", cffake.DefaultAccountID, tr)
	findings := b.Check(context.Background())
	if f := findings[0]; f.Name != checkAPI || !strings.Contains(f.Detail, "cannot connect to the proxy") || !strings.Contains(f.Detail, proxy) || !strings.Contains(f.Fix, "HTTPS_PROXY") {
		t.Errorf("first finding = %+v, want the proxy named", f)
	}
	if n := reqs.n.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (no retries)", n)
	}
}

// What may pass is retried; what cannot is not.
func TestClassifyNet(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://api.example/client/v4/x", Err: err}
	}
	for _, tc := range []struct {
		name  string
		err   error
		net   bool
		retry bool
	}{
		{"no such host", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Name: "api.example", Err: "no such host", IsNotFound: true}}), true, false},
		{"DNS timeout", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Name: "api.example", Err: "i/o timeout", IsTimeout: true}}), true, true},
		{"refused", wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}), true, false},
		{"reset", wrap(&net.OpError{Op: "read", Err: syscall.ECONNRESET}), true, true},
		{"proxy refused", wrap(&net.OpError{Op: "proxyconnect", Err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}}), true, false},
		{"not a network error", errors.New("boom"), false, true},
	} {
		c, ok := classifyNet(tc.err)
		if ok != tc.net || retryableNet(tc.err) != tc.retry || ok && (c.what == "" || c.fix == "") {
			t.Errorf("%s: classified %v (%+v), retry %v; want %v, retry %v", tc.name, ok, c, retryableNet(tc.err), tc.net, tc.retry)
		}
	}
}
