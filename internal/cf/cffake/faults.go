package cffake

import (
	"net/http"
	"slices"
	"strings"
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
