package cffake

import (
	"maps"
	"net/http"
	"strings"
)

// Request is a request the fake answered, as logged for tests to assert how
// a client called.
type Request struct {
	Method string
	// Path is the escaped path below BasePath as the client sent it, e.g.
	// "/accounts/…/storage/kv/namespaces/…/values/a%2Fb". A request outside
	// BasePath has its whole escaped path here.
	Path string
	// Query is the raw query string.
	Query string
	// Header is the request's headers, with the values of Authorization and
	// X-Auth-Key replaced: secrets stay out of test logs.
	Header http.Header
	// ContentLength is the declared body length; -1 when unknown.
	ContentLength int64
	// Route is the operation matched, "METHOD /spec/path/template", or ""
	// when none matched.
	Route string
	// Status is the HTTP status of the answer.
	Status int
	// Faulted is true when an injected fault answered.
	Faulted bool
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	out := make([]Request, len(s.log))
	for i, r := range s.log {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Count returns how many requests matched a route, given as
// "METHOD /spec/path/template" (see Routes), faulted ones included.
func (s *Server) Count(route string) int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return s.counts[route]
}

// Counts returns the count of every route that was requested.
func (s *Server) Counts() map[string]int {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	return maps.Clone(s.counts)
}

// ResetRequests forgets the requests logged and counted so far.
func (s *Server) ResetRequests() {
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.log = nil
	s.counts = map[string]int{}
}

func (s *Server) logRequest(r *http.Request, routeKey string, status int, faulted bool) {
	entry := Request{
		Method:        r.Method,
		Path:          belowBase(r.URL.EscapedPath()),
		Query:         r.URL.RawQuery,
		Header:        redacted(r.Header),
		ContentLength: r.ContentLength,
		Route:         routeKey,
		Status:        status,
		Faulted:       faulted,
	}
	s.ctl.Lock()
	defer s.ctl.Unlock()
	s.log = append(s.log, entry)
	if routeKey != "" {
		s.counts[routeKey]++
	}
}

// redacted copies h with credential values replaced. The scheme of an
// Authorization header is kept, so a test can still see that a client sent
// "Bearer …".
func redacted(h http.Header) http.Header {
	out := h.Clone()
	if v := out.Get("Authorization"); v != "" {
		if scheme, _, found := strings.Cut(v, " "); found {
			out.Set("Authorization", scheme+" [redacted]")
		} else {
			out.Set("Authorization", "[redacted]")
		}
	}
	if out.Get("X-Auth-Key") != "" {
		out.Set("X-Auth-Key", "[redacted]")
	}
	return out
}
