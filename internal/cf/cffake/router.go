package cffake

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// route is one operation of the API: a method and a path template written
// exactly as in the reference spec, so that the spec test can match them and
// Count can be called with the spec's own words.
type route struct {
	method  string
	pattern string     // e.g. "/accounts/{account_id}/r2/buckets/{bucket_name}"
	auth    authKind   // how the request is authenticated
	perm    Permission // what the token must be allowed; "" = nothing beyond a valid token
	handle  func(*Server, *call) reply

	segs []string // pattern split on "/", filled by routeTable
}

// key names the route in the request log and in Count: "GET /accounts".
func (rt *route) key() string { return rt.method + " " + rt.pattern }

// call is what a handler gets: the request, its decoded path parameters, and
// what authentication established. Handlers read nothing else but the
// Server's stored data, which they lock themselves.
type call struct {
	req     *http.Request
	params  map[string]string // percent-decoded path parameters
	account *accountState     // for routes under /accounts/{account_id}
	token   *Token
	now     time.Time
}

// routeTable lists every operation, one area at a time. A new area adds its
// file with a xxxRoutes function and one line here.
func routeTable() []route {
	var all []route
	for _, area := range [][]route{accountRoutes(), kvRoutes(), r2Routes(), d1Routes()} {
		all = append(all, area...)
	}
	for i := range all {
		all[i].segs = strings.Split(strings.TrimPrefix(all[i].pattern, "/"), "/")
	}
	return all
}

// Routes lists the operations the fake serves as "METHOD /path/template",
// with the templates of the reference spec, sorted.
func (s *Server) Routes() []string {
	out := make([]string, 0, len(s.routes))
	for i := range s.routes {
		out = append(out, s.routes[i].key())
	}
	slices.Sort(out)
	return out
}

// dispatch answers a request. It reports the route it matched ("" for none)
// and whether an injected fault answered instead of the route.
func (s *Server) dispatch(r *http.Request) (rep reply, routeKey string, faulted bool) {
	// Cloudflare routes on the path as sent. EscapedPath is that path (Go
	// keeps the client's escaping in RawPath whenever it differs from the
	// default encoding), so "a%2Fb" stays one segment while "a/b" is two.
	escaped := r.URL.EscapedPath()
	rt, params, routeErr := s.match(r.Method, escaped)
	if rt != nil {
		routeKey = rt.key()
	}
	if f := s.takeFault(r.Method, belowBase(escaped)); f != nil {
		return f, routeKey, true
	}
	if routeErr != nil {
		return routeErr, routeKey, false
	}
	c, err := s.authorize(r, rt, params, escaped)
	if err != nil {
		return err, routeKey, false
	}
	return rt.handle(s, c), routeKey, false
}

// belowBase is an escaped path without BasePath; a path outside BasePath is
// returned whole.
func belowBase(escaped string) string {
	if rel, ok := strings.CutPrefix(escaped, BasePath); ok {
		return rel
	}
	return escaped
}

// match finds the route for a method and an escaped path. The path is split
// on "/" before anything is unescaped, so each path parameter is exactly one
// segment; literal segments and parameters are then percent-decoded. A path
// that no route has is 404 (7003); a path some route has, with another
// method, is 405 (7001).
func (s *Server) match(method, escaped string) (*route, map[string]string, *apiError) {
	rel, underBase := strings.CutPrefix(escaped, BasePath)
	if !underBase || !strings.HasPrefix(rel, "/") {
		return nil, nil, errNoRoute(escaped)
	}
	segs := strings.Split(rel[1:], "/")

	var allow []string
	for i := range s.routes {
		rt := &s.routes[i]
		params, ok := matchSegments(rt.segs, segs)
		if !ok {
			continue
		}
		if rt.method != method {
			allow = append(allow, rt.method)
			continue
		}
		return rt, params, nil
	}
	if allow != nil {
		return nil, nil, errMethodNotAllowed(method, allow)
	}
	return nil, nil, errNoRoute(escaped)
}

// matchSegments matches escaped path segments against a template and
// returns the decoded parameters. Segments always decode: Go's server
// refuses a request whose path is not valid percent-encoding with 400
// before any handler sees it.
func matchSegments(tmpl, segs []string) (map[string]string, bool) {
	if len(tmpl) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, t := range tmpl {
		v, err := url.PathUnescape(segs[i])
		if err != nil {
			return nil, false
		}
		if name, isParam := strings.CutPrefix(t, "{"); isParam {
			params[strings.TrimSuffix(name, "}")] = v
		} else if v != t {
			return nil, false
		}
	}
	return params, true
}
