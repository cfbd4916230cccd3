package cffake

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Fault is a failure to inject, to test a client's retries and error
// handling. The zero values of the optional fields mean "any" or "the
// default".
type Fault struct {
	// Status is the HTTP status to answer, e.g. 429 or 503.
	Status int
	// RetryAfter is the Retry-After header to send; "" sends none.
	RetryAfter string
	// Header holds further response headers (x-should-retry, say).
	Header http.Header
	// Method restricts the fault to requests with this method.
	Method string
	// PathPrefix restricts the fault to requests whose escaped path below
	// BasePath starts with it, e.g. "/accounts/<id>/storage/kv".
	PathPrefix string
	// Code and Message replace the error of the envelope. By default a 429
	// carries Cloudflare's 971 "Please wait and consider throttling your
	// request speed", a 5xx 10001 "service temporarily unavailable", a 401
	// or 403 10000 "Authentication error" and anything else 10029.
	Code    int
	Message string
	// Body, when set, is sent as is (text/html unless Header says otherwise)
	// instead of a JSON envelope, like the HTML pages Cloudflare's edge
	// answers some 5xx with.
	Body string
}

type faultRule struct {
	Fault
	left int
}

// FailNext makes the next n requests fail with status, sending Retry-After
// when retryAfter is not empty. Failed requests change nothing.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.Inject(n, Fault{Status: status, RetryAfter: retryAfter})
}

// Inject makes the next n requests that match f fail as f says. Faults are
// used in the order they were injected; a request takes at most one.
func (s *Server) Inject(n int, f Fault) {
	if n <= 0 {
		return
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults = append(s.faults, &faultRule{Fault: f, left: n})
}

// ClearFaults drops every fault not yet used.
func (s *Server) ClearFaults() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.faults = nil
}

// takeFault uses up one fault matching the request, if any.
func (s *Server) takeFault(method, rel string) reply {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	for i, f := range s.faults {
		if (f.Method != "" && f.Method != method) || !strings.HasPrefix(rel, f.PathPrefix) {
			continue
		}
		f.left--
		if f.left == 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		return faultReply(f.Fault)
	}
	return nil
}

type faultReply Fault

func (f faultReply) write(w http.ResponseWriter) {
	for k, v := range f.Header {
		w.Header()[k] = v
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		if w.Header().Get("Content-Type") == "" {
			w.Header().Set("Content-Type", "text/html")
		}
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	e := faultError(f.Status)
	if f.Code != 0 {
		e.errors[0].Code = f.Code
	}
	if f.Message != "" {
		e.errors[0].Message = f.Message
	}
	e.write(w)
}

func faultError(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return errRateLimited()
	case status >= 500:
		return errInternal(status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e := errAuthentication()
		e.status = status
		return e
	}
	return fail(status, 10029, "%s", http.StatusText(status))
}

// Pace slows an answer down, to test a client's timeouts: its status and
// headers go out at once, its body Chunk bytes at a time, each after a
// pause of Every. The zero values of the optional fields mean "any" or
// "the default".
type Pace struct {
	// Method and PathPrefix restrict the pace to some requests, as a
	// Fault's do.
	Method     string
	PathPrefix string
	// Chunk is how many bytes of the body are sent at a time (default
	// 1 KiB); Every is the pause before each.
	Chunk int
	Every time.Duration
	// StallAfter, when positive, stops the body after that many bytes:
	// nothing more is sent until the client gives up (or maxStall passes).
	StallAfter int64
}

// maxStall bounds a stalled answer, so that a client that never gives up
// cannot hold the fake (and the test's clean-up) forever.
const maxStall = 30 * time.Second

type paceRule struct {
	Pace
	left int
}

// Slow makes the next n answers to requests that match p trickle out as p
// says. Paces are used in the order they were given; a request takes at
// most one. A fault and a pace may apply to the same request.
func (s *Server) Slow(n int, p Pace) {
	if n <= 0 {
		return
	}
	if p.Chunk <= 0 {
		p.Chunk = 1 << 10
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.paces = append(s.paces, &paceRule{Pace: p, left: n})
}

// takePace uses up one pace matching the request, if any.
func (s *Server) takePace(method, rel string) *Pace {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	for i, p := range s.paces {
		if (p.Method != "" && p.Method != method) || !strings.HasPrefix(rel, p.PathPrefix) {
			continue
		}
		p.left--
		if p.left == 0 {
			s.paces = slices.Delete(s.paces, i, i+1)
		}
		pace := p.Pace
		return &pace
	}
	return nil
}

// pacedWriter writes a body as its Pace says, flushing each chunk.
type pacedWriter struct {
	http.ResponseWriter
	ctx  context.Context // the request's: done when the client gives up
	pace Pace
	sent int64
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		if w.pace.StallAfter > 0 && w.sent >= w.pace.StallAfter {
			w.flush()
			t := time.NewTimer(maxStall)
			defer t.Stop()
			select {
			case <-w.ctx.Done():
			case <-t.C:
			}
			return written, errStalled
		}
		n := min(len(b), w.pace.Chunk)
		if w.pace.StallAfter > 0 {
			n = int(min(int64(n), w.pace.StallAfter-w.sent))
		}
		if err := sleepCtx(w.ctx, w.pace.Every); err != nil {
			return written, err
		}
		m, err := w.ResponseWriter.Write(b[:n])
		written += m
		w.sent += int64(m)
		if err != nil {
			return written, err
		}
		w.flush()
		b = b[n:]
	}
	return written, nil
}

// errStalled ends a stalled answer's handler; the client has gone.
var errStalled = errors.New("cffake: the answer stalled")

// WriteHeader sends the status and headers at once: only the body is paced.
func (w *pacedWriter) WriteHeader(status int) {
	w.ResponseWriter.WriteHeader(status)
	w.flush()
}

func (w *pacedWriter) flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
