package httpserve

import (
	"bytes"
	"crypto/subtle"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// guard applies, in order, the Origin rule, bearer auth and the body limit.
func guard(next http.Handler, o Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && !originAllowed(origin, o.AllowedOrigins) {
			// The specification's DNS-rebinding rule: a browser page from
			// elsewhere must not drive a local server.
			http.Error(w, "Forbidden: origin "+origin+" is not allowed (see --allowed-origins)", http.StatusForbidden)
			return
		}
		if o.AuthToken != "" && !authorized(r, o.AuthToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-cfstorage"`)
			http.Error(w, "Unauthorized: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		if r.Body != nil && r.Method == http.MethodPost {
			if r.ContentLength > o.MaxBodyBytes {
				tooLarge(w, o.MaxBodyBytes)
				return
			}
			// mcp-go reads whole bodies with no cap. A body of declared
			// length is capped already: net/http gives the handler no byte
			// more than the Content-Length it checked above. One without
			// (chunked) is read here, at most one byte more than allowed, so
			// that an endless body cannot exhaust memory.
			if r.ContentLength >= 0 {
				next.ServeHTTP(w, r)
				return
			}
			body, err := io.ReadAll(io.LimitReader(r.Body, o.MaxBodyBytes+1))
			r.Body.Close()
			if err != nil {
				http.Error(w, "Bad Request: reading the body failed", http.StatusBadRequest)
				return
			}
			if int64(len(body)) > o.MaxBodyBytes {
				tooLarge(w, o.MaxBodyBytes)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, max int64) {
	http.Error(w, "Request Entity Too Large: the body is over --max-body-bytes ("+strconv.FormatInt(max, 10)+" bytes); stream large data with file_path", http.StatusRequestEntityTooLarge)
}

// authorized compares the bearer token in constant time.
func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// originAllowed accepts loopback origins and the configured ones; "*" allows
// any origin. Origins compare as origins (RFC 6454): scheme and host without
// regard to case, a default port the same as none; what is not a bare
// origin (userinfo, a path, a query) matches nothing.
func originAllowed(origin string, allowed []string) bool {
	if slices.Contains(allowed, "*") {
		return true
	}
	o, ok := parseOrigin(origin)
	if !ok {
		return false
	}
	for _, a := range allowed {
		if ao, ok := parseOrigin(a); ok && ao == o {
			return true
		}
	}
	return (o.scheme == "http" || o.scheme == "https") && isLoopback(o.host)
}

type webOrigin struct{ scheme, host, port string }

func parseOrigin(s string) (webOrigin, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Opaque != "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.HasSuffix(u.Host, ":") {
		return webOrigin{}, false
	}
	o := webOrigin{scheme: strings.ToLower(u.Scheme), host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.scheme == "https" && o.port == "443" || o.scheme == "http" && o.port == "80" {
		o.port = ""
	}
	return o, true
}
