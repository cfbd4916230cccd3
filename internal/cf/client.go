package cf

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/d1"
	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/r2"
	"github.com/cloudflare/cloudflare-go/v7/user"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/stall"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// DefaultBaseURL is Cloudflare's REST API.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4"

// defaultTimeout is the REST timeout (Config.Timeout) when none is given,
// and the stall time of S3 object bodies too.
const defaultTimeout = 60 * time.Second

// minThroughput is the slowest upload the per-call timeout allows for: a
// request body of n bytes adds n/minThroughput to the timeout, so a 100 MB
// bulk write is not cut off by a limit meant for a small JSON call.
const minThroughput = 1 << 20 // bytes per second

// restClient is the REST half of the backend: cloudflare-go's service
// clients for the areas used, and nothing else of it (its root package links
// every Cloudflare service). They share one HTTP client, whose transport
// retries (retry.go), and one middleware, which bounds each call in time and
// turns every failed response into an *apiError (errors.go).
type restClient struct {
	namespaces    *kv.NamespaceService
	buckets       *r2.BucketService
	databases     *d1.DatabaseService
	accounts      *accounts.AccountService
	accountTokens *accounts.TokenService
	userTokens    *user.TokenService

	timeout time.Duration
	log     *slog.Logger
	now     func() time.Time
}

func newRESTClient(token, baseURL string, hc *http.Client, timeout time.Duration, log *slog.Logger, now func() time.Time) *restClient {
	c := &restClient{timeout: timeout, log: log, now: now}
	opts := []option.RequestOption{
		option.WithAPIToken(token),
		option.WithBaseURL(baseURL),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0), // retryTransport retries, once for all calls
		option.WithMiddleware(c.observe),
	}
	c.namespaces = kv.NewNamespaceService(opts...)
	c.buckets = r2.NewBucketService(opts...)
	c.databases = d1.NewDatabaseService(opts...)
	c.accounts = accounts.NewAccountService(opts...)
	c.accountTokens = accounts.NewTokenService(opts...)
	c.userTokens = user.NewTokenService(opts...)
	return c
}

// observe runs around every REST call, retries included: it bounds the call
// in time, logs it, and answers a failed response with an *apiError, so
// that cloudflare-go's own error type (which reads only JSON bodies and
// loses the status of an HTML one) never reaches the backend.
//
// The timeout bounds the wait for the answer (its status and headers),
// retries included, and then each pause while its body is read, not the
// reading: a 25 MiB value on a slow link takes as long as it takes, as long
// as it keeps coming.
func (c *restClient) observe(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	parent := req.Context()
	timeout := c.timeout
	if n := bodyLength(req); n > 0 {
		timeout += time.Duration(n/minThroughput) * time.Second
	}
	ctx, cancel := context.WithCancelCause(parent)
	noAnswer := time.AfterFunc(timeout, func() { cancel(errNoAnswer) })
	req = req.WithContext(withAnswerBy(ctx, c.now().Add(timeout)))
	if b, ok := req.Body.(sizedBody); ok {
		// cloudflare-go sets a length and GetBody only for bodies held in
		// memory; a streamed KV value says its own.
		req.ContentLength, req.GetBody = b.length(), b.reopener()
	}
	start := time.Now()
	res, err := next(req)
	if !noAnswer.Stop() && err == nil {
		// The answer came as the time ran out, and its body went with it.
		res.Body.Close()
		err = context.Cause(ctx)
	}
	attrs := []slog.Attr{
		slog.String("method", req.Method), slog.String("path", req.URL.EscapedPath()),
		slog.Duration("elapsed", time.Since(start)),
	}
	if err != nil {
		cancel(nil)
		c.log.LogAttrs(parent, slog.LevelDebug, "cloudflare: request failed", append(attrs, slog.Any("error", err))...)
		if parent.Err() == nil && context.Cause(ctx) == errNoAnswer {
			return nil, storage.Errorf(storage.CodeUnavailable,
				"cloudflare: %s %s: no answer within %s; try again later", req.Method, req.URL.EscapedPath(), timeout)
		}
		return nil, err
	}
	c.log.LogAttrs(parent, slog.LevelDebug, "cloudflare: request", append(attrs, slog.Int("status", res.StatusCode))...)
	// The body may be read after this returns (a KV value streams to the
	// caller): the call's context lives until it is closed.
	res.Body = stall.NewBody(res.Body, ctx, cancel, c.timeout, "cloudflare: "+req.Method+" "+req.URL.EscapedPath())
	if res.StatusCode >= 300 {
		defer res.Body.Close()
		logFailure(parent, c.log, req.Method, req.URL.EscapedPath(), res.StatusCode, res.Header)
		return nil, readAPIError(req, res, c.now())
	}
	return res, nil
}

// errNoAnswer is the cause of a call's cancellation by observe when no
// answer came in time (a pause in its body is stall.ErrStalled).
var errNoAnswer = errors.New("cloudflare: no answer in time")

// cancelOnClose releases a context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// newHTTPClient is the client of the REST calls: hc (or a client of its own,
// when nil) with the retrying transport, and redirects returned rather than
// followed: Cloudflare's API does not redirect, and following one would send
// a write to another path than the one asked for.
func newHTTPClient(hc *http.Client, policy RetryPolicy, log *slog.Logger, now func() time.Time) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	c.Transport = newRetryTransport(c.Transport, policy, log, now)
	if c.CheckRedirect == nil {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &c
}

// sizedBody is a streamed request body that knows its length, and how to
// make itself again for a retry (reopener returns nil when it cannot).
type sizedBody interface {
	io.ReadCloser
	length() int64
	reopener() func() (io.ReadCloser, error)
}

func bodyLength(req *http.Request) int64 {
	if b, ok := req.Body.(sizedBody); ok {
		return b.length()
	}
	return req.ContentLength
}

// seg escapes one path segment. cloudflare-go puts path parameters into the
// URL as they are, so a key "q?x" would end the path at "?" and a key "a/b"
// would reach another route: namespace ids, keys and bucket names are
// escaped whole, "/" included, as Cloudflare routes on the escaped path and
// decodes each segment once. (Account ids are letters and digits, checked
// by New or given by Cloudflare.)
func seg(s string) string { return url.PathEscape(s) }

// Request parameters of cloudflare-go are param.Field values, a type of an
// internal package whose helper (cloudflare.F) lives in the root package,
// which links every Cloudflare service; so their Value and Present fields
// are set directly: p.AccountID.Value, p.AccountID.Present = id, true.
