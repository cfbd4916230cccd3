// Package explorer is a client of the Local Explorer API that `wrangler dev`
// serves over its KV, R2 and D1 state (a Cloudflare-shaped REST API; the
// shared reference holds its OpenAPI description as wrangler 4.164.0 serves
// it). Store implements the data operations of storage.KV, storage.R2 and
// storage.D1 for ids that the caller has already resolved to the ones dev
// uses: the Local Explorer answers for any id, creating what it does not
// know, so it must never see an id that is not one of the project's.
//
// What the Local Explorer of wrangler 4.164.0 does, read in its source
// (miniflare/dist/src/workers/local-explorer/explorer.worker.js) and checked
// against a running dev:
//   - A key travels as one path segment, escaped with url.PathEscape: "/"
//     as %2F reaches the key "w/hello.txt" (unescaped it is routed as two
//     segments and answers 404); ? # % space + arrive as written. A key that
//     is a dot segment ("." or "..") cannot travel in a path at all (URL
//     parsers resolve it, %2E%2E included).
//   - KV: a value's GET answers the bytes only (the expiration header its
//     description promises is not sent), so metadata and expiration come
//     from a listing; a value's PUT ignores expiration, so values are
//     written through the bulk endpoint, which honours it; bulk get answers
//     text, so values are read one by one.
//   - R2: PUT keeps Content-Type and custom metadata only (other HTTP
//     metadata is dropped); GET has no ranges; a listing carries no HTTP or
//     custom metadata; GET /r2/buckets/{name} answers 404.
//   - D1: /raw binds only string parameters (its schema: params are
//     strings), answers only the last statement of a multi-statement sql,
//     and runs a {"batch": [...]} in one transaction.
package explorer

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/stall"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Paths are where dev serves the Local Explorer API, in the order probed:
// wrangler 4.164.0 answers at both; newer builds serve only the second.
var Paths = []string{"/cdn-cgi/explorer/api", "/cdn-cgi/local/explorer/api"}

// ErrNotRunning is the error of Probe when nothing listens at the URL.
var ErrNotRunning = errors.New("wrangler dev is not running")

// ErrNoAnswer is wrapped by the error of a call that dev did not answer
// (the connection failed or broke): the caller forgets the Local Explorer
// and probes again. The error's text says whether the request had been
// sent, and so whether it may have changed anything.
var ErrNoAnswer = errors.New("wrangler dev did not answer")

// Store is the Local Explorer of one running `wrangler dev`.
type Store struct {
	devURL string // http://127.0.0.1:8787
	base   string // devURL + the API path that answered
	http   *http.Client
	limits Timeouts
}

// Timeouts bound a call of a dev that accepts it and then hangs.
type Timeouts struct {
	// Answer bounds the wait for the status and headers: from the start of
	// the call, from each piece of the request's body going out, and from
	// the end of the request (a D1 query's answer comes when it has run).
	Answer time.Duration
	// Stall bounds each pause while the answer's body arrives; reading it
	// takes as long as it takes while it keeps coming.
	Stall time.Duration
}

// DefaultTimeouts are generous for a dev on loopback.
var DefaultTimeouts = Timeouts{Answer: 60 * time.Second, Stall: 30 * time.Second}

// Option qualifies a Store.
type Option func(*Store)

// WithTimeouts replaces DefaultTimeouts.
func WithTimeouts(t Timeouts) Option { return func(s *Store) { s.limits = t } }

// errNoAnswerInTime is the cause of a call's cancellation when its answer
// did not come within Timeouts.Answer.
var errNoAnswerInTime = errors.New("wrangler dev: no answer in time")

// probeTimeout bounds one probe request: dev answers in milliseconds on
// loopback, and a port that holds the connection is not a dev server.
const probeTimeout = 5 * time.Second

// Probe finds the Local Explorer of the dev server at devURL. It returns
// ErrNotRunning (wrapped) when nothing listens there, and an error naming
// the URL when something else answers.
func Probe(ctx context.Context, devURL string, client *http.Client, opts ...Option) (*Store, error) {
	if client == nil {
		client = http.DefaultClient
	}
	devURL = strings.TrimRight(devURL, "/")
	var answered []string
	for _, p := range Paths {
		ok, status, err := probeOne(ctx, client, devURL+p)
		switch {
		case err != nil && refused(err):
			return nil, fmt.Errorf("%w at %s: %w", ErrNotRunning, devURL, err)
		case err != nil:
			return nil, storage.Errorf(storage.CodeUnavailable, "wrangler dev at %s did not answer: %v; check that the URL (--wrangler-url) is wrangler dev's", devURL, err)
		case ok:
			s := &Store{devURL: devURL, base: devURL + p, http: client, limits: DefaultTimeouts}
			for _, o := range opts {
				o(s)
			}
			return s, nil
		}
		answered = append(answered, fmt.Sprintf("%s: %s", p, status))
	}
	return nil, storage.Errorf(storage.CodeUnavailable,
		"%s answers, but not as wrangler dev's Local Explorer (%s): another server holds that port; point --wrangler-url at wrangler dev (its \"Ready on\" line) or set dev.port in the wrangler config",
		devURL, strings.Join(answered, "; "))
}

// probeOne asks for the OpenAPI description the Local Explorer serves at
// its root.
func probeOne(ctx context.Context, client *http.Client, u string) (bool, string, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string `json:"openapi"`
		Info    struct {
			Title string `json:"title"`
		} `json:"info"`
	}
	if resp.StatusCode != http.StatusOK {
		return false, resp.Status, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&doc); err != nil || doc.OpenAPI == "" || !strings.Contains(doc.Info.Title, "Local Explorer") {
		return false, "200 but not the Local Explorer's OpenAPI description", nil
	}
	return true, "", nil
}

// refused reports whether err means nothing listens, as opposed to a
// server that answers badly.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// URL is the base URL of the API that answered, for whoami.
func (s *Store) URL() string { return s.base }

// envelope is Cloudflare's response envelope, which the Local Explorer uses.
type envelope struct {
	Success bool            `json:"success"`
	Errors  []apiMessage    `json:"errors"`
	Result  json.RawMessage `json:"result"`
	Info    json.RawMessage `json:"result_info"`
}

type apiMessage struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// request is one call of the API.
type request struct {
	method string
	path   string // already escaped
	query  url.Values
	header http.Header
	body   io.Reader
	size   int64  // body size, -1 unknown
	field  string // the caller's field the body comes from ("value"), for its errors
	what   string
}

// callerBody is a request body that keeps the first error of the caller's
// reader (or a short read of an announced size), so that it is reported as
// the caller's, not as dev failing to answer.
type callerBody struct {
	r     io.Reader
	size  int64
	timer *answerTimer // paused while the caller's reader runs
	n     int64
	mu    sync.Mutex
	err   error
}

func (b *callerBody) Read(p []byte) (int, error) {
	b.timer.pause()
	n, err := b.r.Read(p)
	b.timer.arm()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += int64(n)
	switch {
	case err == io.EOF && b.size >= 0 && b.n < b.size:
		b.err = fmt.Errorf("has %d bytes, not the %d announced", b.n, b.size)
	case err != nil && err != io.EOF && b.err == nil:
		b.err = err
	}
	return n, err
}

// answerTimer cancels a call whose answer does not come in time. It is
// armed at the start, re-armed as the request's body goes out and when the
// request was written, paused while the caller's reader runs, and ended
// when the call returns, after which nothing arms it again (a body still
// being sent when dev answered early).
type answerTimer struct {
	mu    sync.Mutex
	t     *time.Timer
	d     time.Duration
	ended bool
}

func newAnswerTimer(d time.Duration, cancel context.CancelCauseFunc) *answerTimer {
	return &answerTimer{t: time.AfterFunc(d, func() { cancel(errNoAnswerInTime) }), d: d}
}

func (a *answerTimer) pause() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.t.Stop()
}

func (a *answerTimer) arm() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ended {
		a.t.Reset(a.d)
	}
}

// end stops the timer for good, and reports whether it had not fired.
func (a *answerTimer) end() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ended = true
	return a.t.Stop()
}

func (b *callerBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// do sends r and returns the response when its status is 2xx; otherwise
// the Local Explorer's error, coded.
func (s *Store) do(ctx context.Context, r request) (*http.Response, error) {
	u := s.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	// The call has a context of its own: the answer timer cancels it when
	// dev takes too long to answer (counted from the request's start, and
	// again from each piece of its body and from its end), and a stall.Body
	// when the answer's body pauses too long; closing the body releases it.
	callCtx, cancel := context.WithCancelCause(ctx)
	answer := newAnswerTimer(s.limits.Answer, cancel)
	var body *callerBody
	if r.body != nil {
		body = &callerBody{r: r.body, size: r.size, timer: answer}
	}
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		wrote.Store(i.Err == nil)
		answer.arm()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(callCtx, trace), r.method, u, nil)
	if err != nil {
		answer.end()
		cancel(nil)
		return nil, storage.Errorf(storage.CodeInternal, "wrangler: %s: %v", r.what, err)
	}
	if body != nil {
		req.Body, req.ContentLength = io.NopCloser(body), r.size
		if r.size == 0 {
			req.Body = http.NoBody
		}
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := s.http.Do(req)
	if !answer.end() && err == nil {
		// The answer came as the time ran out, and its body went with it.
		resp.Body.Close()
		err = context.Cause(callCtx)
	}
	if err != nil {
		cancel(nil)
		if ctx.Err() == nil && context.Cause(callCtx) == errNoAnswerInTime {
			err = fmt.Errorf("no answer within %s", s.limits.Answer)
		}
		return nil, s.noAnswer(ctx, r, body, wrote.Load(), err)
	}
	resp.Body = stall.NewBody(resp.Body, callCtx, cancel, s.limits.Stall, "wrangler: "+r.what)
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, s.apiError(r.what, resp)
}

// noAnswer is the error of a request that got no answer: the caller's
// body failing is the caller's error; otherwise dev did not answer
// (ErrNoAnswer), and whether anything changed depends on whether the
// request had been sent whole.
func (s *Store) noAnswer(ctx context.Context, r request, body *callerBody, wrote bool, err error) error {
	if body != nil {
		if berr := body.failed(); berr != nil {
			field := cmp.Or(r.field, "body")
			if ctx.Err() == nil && storage.CodeOf(berr) == storage.CodeInternal {
				return storage.Errorf(storage.CodeInvalidArgument, "%s: %v (%s)", field, berr, r.what)
			}
			return fmt.Errorf("wrangler: %s: %s: %w", r.what, field, berr)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("wrangler: %s: %w", r.what, ctx.Err())
	}
	switch {
	case !wrote:
		return errNoAnswer("wrangler: %s: wrangler dev at %s did not answer (%v), and the request was not sent whole, so nothing changed; is dev still running?", r.what, s.devURL, err)
	case r.method == http.MethodGet || r.method == http.MethodHead:
		return errNoAnswer("wrangler: %s: wrangler dev at %s did not answer (%v); is dev still running?", r.what, s.devURL, err)
	default:
		return errNoAnswer("wrangler: %s: the request reached wrangler dev at %s, but no answer came (%v): whether it was applied is unknown; read it back before writing again", r.what, s.devURL, err)
	}
}

// errNoAnswer is an unavailable error that wraps ErrNoAnswer.
func errNoAnswer(format string, args ...any) error {
	return &storage.Error{Code: storage.CodeUnavailable, Message: fmt.Sprintf(format, args...), Err: ErrNoAnswer}
}

// apiError codes a failed answer.
func (s *Store) apiError(what string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(raw))
	var env envelope
	if json.Unmarshal(raw, &env) == nil && len(env.Errors) > 0 {
		var parts []string
		for _, e := range env.Errors {
			parts = append(parts, e.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	code := storage.CodeInternal
	switch {
	case resp.StatusCode == http.StatusNotFound:
		code = storage.CodeNotFound
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		code = storage.CodeTooLarge
	case resp.StatusCode == http.StatusTooManyRequests:
		code = storage.CodeRateLimited
	case resp.StatusCode/100 == 4:
		code = storage.CodeInvalidArgument
	case resp.StatusCode/100 == 5:
		code = storage.CodeUnavailable
	}
	return storage.Errorf(code, "wrangler: %s: the Local Explorer answered %s: %s", what, resp.Status, msg)
}

// call sends r and decodes the envelope's result into out (and its
// result_info into info, when not nil).
func (s *Store) call(ctx context.Context, r request, out, info any) error {
	resp, err := s.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env envelope
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		if se := (*storage.Error)(nil); errors.As(err, &se) {
			return err // the answer stopped arriving: it says so
		}
		return storage.Errorf(storage.CodeInternal, "wrangler: %s: the answer is not the Local Explorer's JSON: %v", r.what, err)
	}
	if !env.Success {
		return storage.Errorf(storage.CodeInternal, "wrangler: %s: the Local Explorer answered success=false: %+v", r.what, env.Errors)
	}
	if out != nil && len(env.Result) > 0 {
		if err := unmarshalNumber(env.Result, out); err != nil {
			return storage.Errorf(storage.CodeInternal, "wrangler: %s: unexpected result: %v", r.what, err)
		}
	}
	if info != nil && len(env.Info) > 0 {
		if err := json.Unmarshal(env.Info, info); err != nil {
			return storage.Errorf(storage.CodeInternal, "wrangler: %s: unexpected result_info: %v", r.what, err)
		}
	}
	return nil
}

func unmarshalNumber(raw []byte, out any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	return dec.Decode(out)
}

// segment escapes a key or id as one path segment. A dot segment cannot be
// one: URL parsers resolve "." and ".." (and %2E%2E) before routing.
func segment(field, v string) (string, error) {
	if v == "." || v == ".." {
		return "", storage.Errorf(storage.CodeUnsupported,
			"%s %q: wrangler dev's Local Explorer cannot address a key that is a URL dot segment; stop wrangler dev to reach it through the persisted files", field, v)
	}
	return "/" + url.PathEscape(v), nil
}

// jsonBody is a JSON request body.
func jsonBody(v any) (io.Reader, int64, http.Header, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, 0, nil, err
	}
	return strings.NewReader(string(b)), int64(len(b)), http.Header{"Content-Type": {"application/json"}}, nil
}
