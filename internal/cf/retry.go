package cf

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// RetryPolicy says how REST calls are retried. Zero fields take the
// defaults.
type RetryPolicy struct {
	// Attempts is how many times a call is tried, the first included
	// (default 4).
	Attempts int
	// BaseDelay is the backoff before the first retry (default 500 ms); it
	// doubles with each retry, up to MaxDelay (default 20 s), and is
	// jittered.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest Retry-After that is waited for (default
	// 60 s). A response asking for longer fails the call at once, as
	// rate_limited with the wait in its message: holding a tool call for
	// minutes helps no one.
	MaxRetryAfter time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 20 * time.Second
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = time.Minute
	}
	return p
}

// retryTransport retries REST requests that Cloudflare answered with 429 or
// a 5xx, or that got no answer, with jittered exponential backoff and
// honouring Retry-After. It is the one retry mechanism of every REST call:
// cloudflare-go's own retries are switched off (option.WithMaxRetries(0)).
//
// A request is retried only when that is safe:
//   - its body can be sent again (none, or GetBody is set);
//   - for a 5xx or a failed connection, it is idempotent: GET, HEAD, PUT,
//     DELETE, or a POST whose context says so (withIdempotent). A 5xx may
//     come after the work was done, and creating a namespace twice is not
//     the same as once. A 429 is retried whatever the method: Cloudflare
//     refused the request before doing anything.
//   - for a failed connection, it may pass (classifyNet): a name that does
//     not resolve, a refused connection or an untrusted certificate will not.
//
// Waits end with the request's context; a wait that would outlast the
// context's deadline, or the call's timeout (withAnswerBy), is not begun,
// and the last answer is returned instead.
type retryTransport struct {
	base   http.RoundTripper
	policy RetryPolicy
	log    *slog.Logger
	now    func() time.Time
	// sleep waits d or until ctx is done; tests replace it to see the waits
	// asked for without spending them.
	sleep func(ctx context.Context, d time.Duration) error
}

func newRetryTransport(base http.RoundTripper, policy RetryPolicy, log *slog.Logger, now func() time.Time) *retryTransport {
	if base == nil {
		base = http.DefaultTransport
	}
	return &retryTransport{base: base, policy: policy.withDefaults(), log: log, now: now, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tries, _ := req.Context().Value(attemptsKey{}).(*attempts)
	for attempt := 1; ; attempt++ {
		if tries != nil {
			tries.n.Store(int32(attempt))
		}
		res, err := t.base.RoundTrip(req)
		wait, ok := t.retryable(req, res, err, attempt)
		if !ok {
			return res, err
		}
		attrs := []slog.Attr{
			slog.String("method", req.Method), slog.String("path", req.URL.EscapedPath()),
			slog.Int("attempt", attempt), slog.Duration("wait", wait),
		}
		if res != nil {
			attrs = append(attrs, slog.Int("status", res.StatusCode))
			if ray := res.Header.Get("Cf-Ray"); ray != "" {
				attrs = append(attrs, slog.String("cf_ray", clip(ray, 100)))
			}
			// Read a little of the body so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 4<<10))
			res.Body.Close()
		} else {
			attrs = append(attrs, slog.Any("error", err))
		}
		t.log.LogAttrs(req.Context(), slog.LevelInfo, "cloudflare: retrying", attrs...)
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// retryable decides whether the answer to attempt calls for another, and
// how long to wait before it.
func (t *retryTransport) retryable(req *http.Request, res *http.Response, err error, attempt int) (time.Duration, bool) {
	ctx := req.Context()
	if attempt >= t.policy.Attempts || ctx.Err() != nil || !replayable(req) {
		return 0, false
	}
	var wait time.Duration
	switch {
	case err != nil:
		if !idempotent(req) || !retryableNet(err) {
			return 0, false
		}
		wait = t.backoff(attempt)
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 && idempotent(req) && transient(res.StatusCode):
		after, ok := retryAfterHeader(res.Header, t.now())
		switch {
		case !ok:
			wait = t.backoff(attempt)
		case after > t.policy.MaxRetryAfter:
			return 0, false
		default:
			wait = after
		}
	default:
		return 0, false
	}
	if deadline, ok := ctx.Deadline(); ok && t.now().Add(wait).After(deadline) {
		return 0, false
	}
	if by, ok := ctx.Value(answerByKey{}).(time.Time); ok && t.now().Add(wait).After(by) {
		return 0, false
	}
	return wait, true
}

// transient reports whether a 5xx may pass: not 501 Not Implemented nor 505
// HTTP Version Not Supported, which will not.
func transient(status int) bool {
	return status != http.StatusNotImplemented && status != http.StatusHTTPVersionNotSupported
}

// backoff is the jittered wait before retry number attempt: half of the
// capped exponential delay, plus up to as much again at random, so that
// clients that failed together do not retry together.
func (t *retryTransport) backoff(attempt int) time.Duration {
	d := t.policy.MaxDelay
	if shift := attempt - 1; shift < 32 {
		d = min(t.policy.BaseDelay<<shift, t.policy.MaxDelay)
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfterHeader reads Retry-After, delay seconds or an HTTP date, for
// the REST and the S3 retries alike; a delay is capped at a day, which any
// caller's own cap is below.
func retryAfterHeader(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewind returns req ready to be sent again, with a fresh body. The request
// is cloned: a RoundTripper must not change the one it was given.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	next := req.Clone(req.Context())
	next.Body = body
	return next, nil
}

type answerByKey struct{}

// withAnswerBy records when a call's answer is due (client.go's timeout): a
// wait that would outlast it is not begun, as for a context's deadline.
func withAnswerBy(ctx context.Context, by time.Time) context.Context {
	return context.WithValue(ctx, answerByKey{}, by)
}

type attemptsKey struct{}

// attempts is how many times the retry transport sent a call's request.
type attempts struct{ n atomic.Int32 }

// withAttempts has the requests made with ctx counted in the attempts it
// returns, for a call whose answer means something else once repeated.
func withAttempts(ctx context.Context) (context.Context, *attempts) {
	a := &attempts{}
	return context.WithValue(ctx, attemptsKey{}, a), a
}

// retried reports whether the request was sent more than once.
func (a *attempts) retried() bool { return a.n.Load() > 1 }

type idempotentKey struct{}

// withIdempotent marks the requests made with ctx as safe to repeat, for
// POSTs that are: KV bulk reads and bulk deletes.
func withIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	marked, _ := req.Context().Value(idempotentKey{}).(bool)
	return marked
}
