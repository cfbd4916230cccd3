package cf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// This file is the one place where a failed REST call becomes a storage
// error. The middleware of client.go turns every response of status 300 or
// more into an *apiError; each call then hands its error to call.fail, which
// knows what the call acted on, and so can name the namespace, key or bucket
// and the token permission that was missing.
//
// Cloudflare's codes, and where they were checked:
//
//   - Workers KV: the namespace error table of Cloudflare's former API docs
//     (api.cloudflare.com/#workers-kv-namespace-errors, kept in the legacy
//     cloudflare/wrangler source and quoted in public client code, e.g.
//     gist.github.com/itssoap/8c4dc1740716f725dc6648d5791ec3ff): 10009 key
//     not found, 10013 namespace not found, 10014 namespace already exists,
//     10022 too many requests, 10024 payload too large. The reference spec
//     says a duplicate title is a 400.
//   - R2 buckets: developers.cloudflare.com/r2/api/error-codes: 10006
//     NoSuchBucket (404), 10008 BucketNotEmpty (409), 10073 BucketConflict
//     (409, a name taken); 10004 (409) "The bucket you tried to create
//     already exists, and you own it", observed from the REST API in
//     wrangler output. The same numbers mean other things in KV (10008 is
//     "malformed per_page", 10009 "key not found"), so codes are read per
//     area, never globally.
//   - D1: 7404 "The database … could not be found" (404), 7500 a query
//     that D1 refused (400 since 2024-04-15, cloudflare/cloudflare-docs#13934;
//     the message is SQLite's, as D1 gives it), 7502 "A database with that
//     name already exists" (cloudflare/workers-sdk#2143, where wrangler maps
//     the code to that message).
//   - The API gateway, for every area: 10000 "Authentication error" (403)
//     for a valid token without the permission (widely observed, e.g.
//     lablabs/cloudflare-exporter#120, cloudflare/cf-terraforming#677:
//     Cloudflare does not say which permission is missing); 9109 (403)
//     "Invalid access token" / "Unauthorized to access requested resource"
//     (jeessy2/ddns-go#1341, ChrispyBacon-dev/DockFlare#177); 1000 (401)
//     "Invalid API Token" from the verify endpoints; 6003/6111 (400)
//     "Invalid format for Authorization header"; 9106 (400) missing
//     credentials; 1001 (400) "List accounts endpoint does not support
//     account owned tokens." (edgefirst-dev/starter#3).

// apiError is a failed Cloudflare REST call as it came back. It never holds
// the request's headers, so never the token.
type apiError struct {
	Method string
	Path   string // the escaped path, without the query
	Status int
	// Messages are Cloudflare's errors[], each with its error_chain.
	Messages []apiMessage
	// RetryAfter is the response's Retry-After, when it had one.
	RetryAfter time.Duration
}

// apiMessage is one entry of a Cloudflare envelope's errors[].
type apiMessage struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []apiMessage `json:"error_chain,omitempty"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("cloudflare: %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.detail())
}

// detail is Cloudflare's own account of the failure: "message (code N)",
// joined with "; ".
func (e *apiError) detail() string {
	var parts []string
	var walk func([]apiMessage)
	walk = func(ms []apiMessage) {
		for _, m := range ms {
			switch {
			case m.Code != 0 && m.Message != "":
				parts = append(parts, fmt.Sprintf("%s (code %d)", m.Message, m.Code))
			case m.Message != "":
				parts = append(parts, m.Message)
			case m.Code != 0:
				parts = append(parts, fmt.Sprintf("code %d", m.Code))
			}
			walk(m.ErrorChain)
		}
	}
	walk(e.Messages)
	if len(parts) == 0 {
		return http.StatusText(e.Status)
	}
	return strings.Join(parts, "; ")
}

// messages is Cloudflare's account of the failure in its own words, without
// the codes: for D1, the message SQLite gave.
func (e *apiError) messages() string {
	var parts []string
	var walk func([]apiMessage)
	walk = func(ms []apiMessage) {
		for _, m := range ms {
			if m.Message != "" {
				parts = append(parts, m.Message)
			}
			walk(m.ErrorChain)
		}
	}
	walk(e.Messages)
	if len(parts) == 0 {
		return e.detail()
	}
	return strings.Join(parts, "; ")
}

// has reports whether Cloudflare gave any of codes, at any depth.
func (e *apiError) has(codes ...int) bool {
	var walk func([]apiMessage) bool
	walk = func(ms []apiMessage) bool {
		for _, m := range ms {
			if slices.Contains(codes, m.Code) || walk(m.ErrorChain) {
				return true
			}
		}
		return false
	}
	return walk(e.Messages)
}

// logFailure records a failed answer of Cloudflare's, REST or S3, with what
// identifies it at Cloudflare: its status and request id (cf-ray, and the
// S3 API's x-amz-request-id), which Cloudflare's support asks for. It reads
// the response's headers only, never the request's, and so never a
// credential. A failure of Cloudflare's making or a refusal of the
// credentials (401, 403, 429, 5xx) is a warning, whatever code it maps to;
// the others (404, 409, 400...) are the caller's to read in the result, and
// are logged at debug level.
func logFailure(ctx context.Context, log *slog.Logger, method, path string, status int, h http.Header) {
	level := slog.LevelDebug
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusTooManyRequests, status >= 500:
		level = slog.LevelWarn
	}
	if !log.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("method", method), slog.String("path", path), slog.Int("status", status)}
	for _, id := range []struct{ header, attr string }{{"Cf-Ray", "cf_ray"}, {"X-Amz-Request-Id", "request_id"}} {
		if v := h.Get(id.header); v != "" {
			attrs = append(attrs, slog.String(id.attr, clip(v, 100)))
		}
	}
	log.LogAttrs(ctx, level, "cloudflare: call failed", attrs...)
}

// maxErrorBody bounds how much of an error response is read: an envelope is
// small, an edge's HTML error page need not be read whole.
const maxErrorBody = 64 << 10

// readAPIError reads a failed response into an *apiError and closes its body.
// A body that is not a JSON envelope (an HTML page from the edge) is kept as
// a short text message.
func readAPIError(req *http.Request, res *http.Response, now time.Time) *apiError {
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
	e := &apiError{Method: req.Method, Path: req.URL.EscapedPath(), Status: res.StatusCode}
	e.RetryAfter, _ = retryAfterHeader(res.Header, now)
	var env struct {
		Errors []apiMessage `json:"errors"`
	}
	if json.Unmarshal(body, &env) == nil && len(env.Errors) > 0 {
		e.Messages = env.Errors
		return e
	}
	if text := strings.Join(strings.Fields(string(body)), " "); text != "" && utf8.ValidString(text) {
		e.Messages = []apiMessage{{Message: clip(text, 200)}}
	}
	return e
}

// clip shortens s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// area is a part of the Cloudflare API: it decides what a code means and
// which token permission a refused call lacked.
type area int

const (
	areaAccount area = iota // accounts and token verification
	areaKV
	areaR2
	areaD1
)

// permission is what the API token needs for a call, in the words of
// Cloudflare's dashboard.
func (a area) permission(write bool) string {
	switch {
	case a == areaKV && write:
		return "Workers KV Storage:Edit"
	case a == areaKV:
		return "Workers KV Storage:Read (or :Edit)"
	case a == areaR2 && write:
		return "Workers R2 Storage:Edit"
	case a == areaR2:
		return "Workers R2 Storage:Read (or :Edit)"
	case a == areaD1 && write:
		return "D1:Edit"
	case a == areaD1:
		return "D1:Read (or :Edit)"
	}
	return "Account Settings:Read"
}

// Codes Cloudflare gives, per area (see the top of this file for sources).
const (
	codeKVKeyNotFound       = 10009
	codeKVNamespaceNotFound = 10013
	codeKVDuplicateTitle    = 10014
	codeKVTooManyRequests   = 10022
	codeKVPayloadTooLarge   = 10024

	codeR2NoSuchBucket   = 10006
	codeR2BucketNotEmpty = 10008
	codeR2BucketOwned    = 10004
	codeR2BucketConflict = 10073

	codeD1NotFound   = 7404
	codeD1QueryError = 7500
	codeD1NameTaken  = 7502

	codeAuthentication    = 10000 // a valid token without the permission
	codeInvalidToken      = 9109  // a token Cloudflare does not accept
	codeInvalidAPIToken   = 1000  // the same, from the verify endpoints
	codeAccountOwnedToken = 1001  // GET /accounts with an account-owned token
	codeBadAuthHeader     = 6003
	codeMissingAuth       = 9106
)

// call describes one REST call for its error messages: what it was doing,
// in which area, and on what.
type call struct {
	op    string // "reading key", "creating bucket"...
	area  area
	write bool

	namespace string // KV namespace id
	key       string // KV key
	title     string // namespace title being created or given
	bucket    string // R2 bucket name
	database  string // D1 database id
	dbName    string // D1 database name being created
	sql       bool   // a D1 query: a refusal is the SQL's
}

// restError is a storage error with a message of ours and Cloudflare's
// answer as its cause: reachable with errors.As, not repeated in the text.
func restError(code storage.Code, cause error, format string, args ...any) error {
	return &storage.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// fail turns the error of a call into the storage error the tools report.
// A cancelled or timed-out context stays a context error (CodeOf reads it as
// unavailable); an error that already carries a code is kept.
func (c call) fail(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("cloudflare: %s: %w", c.op, ctx.Err())
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return err
	}
	var e *apiError
	if !errors.As(err, &e) {
		// No answer at all: refused connection, reset, DNS. Not the
		// caller's mistake, and it may pass.
		return storage.Errorf(storage.CodeUnavailable, "cloudflare: %s: cannot reach the Cloudflare API: %w", c.op, netError(err))
	}
	if mapped := c.known(e); mapped != nil {
		return mapped
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden ||
		e.has(codeAuthentication, codeInvalidToken, codeInvalidAPIToken, codeBadAuthHeader, codeMissingAuth):
		return c.denied(e)
	case e.Status == http.StatusTooManyRequests:
		return c.rateLimited(e)
	case e.Status == http.StatusNotFound:
		return restError(storage.CodeNotFound, e, "cloudflare: %s: not found: %s", c.op, e.detail())
	case e.Status == http.StatusConflict:
		return restError(storage.CodeConflict, e, "cloudflare: %s: %s", c.op, e.detail())
	case e.Status == http.StatusRequestEntityTooLarge:
		return restError(storage.CodeTooLarge, e, "cloudflare: %s: the request is too large: %s", c.op, e.detail())
	case e.Status >= 500:
		return restError(storage.CodeUnavailable, e, "cloudflare: %s: Cloudflare failed (HTTP %d: %s); try again later",
			c.op, e.Status, e.detail())
	case e.Status >= 400:
		return restError(storage.CodeInvalidArgument, e, "cloudflare: %s: Cloudflare refused the request: %s", c.op, e.detail())
	}
	// 3xx: the API never redirects, and the client does not follow.
	return restError(storage.CodeInternal, e, "cloudflare: %s: unexpected HTTP %d from %s", c.op, e.Status, e.Path)
}

// failDelete is fail for a delete, which is idempotent and so retried: when
// a retry finds the thing gone (not_found), an earlier attempt whose answer
// was lost deleted it, and the delete did what it was asked.
func (c call) failDelete(ctx context.Context, tries *attempts, err error) error {
	err = c.fail(ctx, err)
	if err != nil && tries.retried() && errors.Is(err, storage.ErrNotFound) {
		return nil
	}
	return err
}

// known maps the codes of c's area that say more than the status does. The
// messages use the same words as the local backend's and storage.Guard's.
func (c call) known(e *apiError) error {
	switch c.area {
	case areaKV:
		switch {
		case e.has(codeKVNamespaceNotFound):
			return restError(storage.CodeNotFound, e, "namespace %q: no such KV namespace (call list_kv_namespaces to see them)", c.namespace)
		case e.has(codeKVKeyNotFound):
			return restError(storage.CodeNotFound, e, "key %q: not found in KV namespace %s", c.key, c.namespace)
		case e.has(codeKVDuplicateTitle):
			return restError(storage.CodeAlreadyExists, e, "a KV namespace titled %q already exists", c.title)
		case e.has(codeKVTooManyRequests):
			return c.rateLimited(e)
		case e.has(codeKVPayloadTooLarge):
			return restError(storage.CodeTooLarge, e, "cloudflare: %s: %s", c.op, e.detail())
		}
	case areaR2:
		switch {
		case e.has(codeR2NoSuchBucket):
			return restError(storage.CodeNotFound, e, "bucket %q: no such R2 bucket (call list_r2_buckets to see them)", c.bucket)
		case e.has(codeR2BucketNotEmpty):
			return restError(storage.CodeConflict, e,
				"bucket %q is not empty: delete its objects first (r2_delete), then the bucket", c.bucket)
		case e.has(codeR2BucketOwned):
			return restError(storage.CodeAlreadyExists, e, "bucket %q already exists", c.bucket)
		case e.has(codeR2BucketConflict):
			return restError(storage.CodeAlreadyExists, e, "bucket %q: the name is taken (R2 bucket names are unique across Cloudflare)", c.bucket)
		}
	case areaD1:
		switch {
		case e.has(codeD1NotFound) || e.Status == http.StatusNotFound && c.database != "":
			return restError(storage.CodeNotFound, e, "database %q: no such D1 database (call list_d1_databases to see them)", c.database)
		case e.has(codeD1NameTaken):
			return restError(storage.CodeAlreadyExists, e, "a D1 database named %q already exists", c.dbName)
		case c.sql && (e.has(codeD1QueryError) || e.Status == http.StatusBadRequest) &&
			!e.has(codeAuthentication, codeInvalidToken, codeInvalidAPIToken, codeBadAuthHeader, codeMissingAuth):
			return restError(storage.CodeInvalidArgument, e, "sql: %s; nothing was changed", e.messages())
		}
	case areaAccount:
		if e.has(codeAccountOwnedToken) {
			return restError(storage.CodePermissionDenied, e,
				"cloudflare: %s: the API token is an account API token, which cannot list accounts: set CLOUDFLARE_ACCOUNT_ID to its account's id", c.op)
		}
	}
	return nil
}

// denied reports a refused token, naming the permission the call needs.
// Cloudflare does not say which permission was missing, so the message
// names the one this call needs; a token it does not accept at all is told
// apart by its codes.
func (c call) denied(e *apiError) error {
	if e.has(codeInvalidToken, codeInvalidAPIToken, codeBadAuthHeader, codeMissingAuth) {
		return restError(storage.CodePermissionDenied, e,
			"cloudflare: %s: Cloudflare does not accept the API token (%s): check CLOUDFLARE_API_TOKEN, which may be mistyped, expired or disabled",
			c.op, e.detail())
	}
	return restError(storage.CodePermissionDenied, e,
		"cloudflare: %s: the API token lacks %s, or cannot reach this account (%s): add the permission to the token in the Cloudflare dashboard (My Profile > API Tokens)",
		c.op, c.area.permission(c.write), e.detail())
}

func (c call) rateLimited(e *apiError) error {
	wait := "wait a little and try again"
	if e.RetryAfter > 0 {
		wait = fmt.Sprintf("try again in %s", e.RetryAfter.Round(time.Second))
	}
	return restError(storage.CodeRateLimited, e, "cloudflare: %s: Cloudflare's API rate limit was reached (%s); %s", c.op, e.detail(), wait)
}

// explain adds to the message of err's storage error, keeping its code, so
// that the words reach the tool result (storage.Describe shows the
// innermost storage error's message, not the text of wrappers around it).
func explain(err error, format string, args ...any) error {
	var se *storage.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("%w"+format, append([]any{err}, args...)...)
	}
	return &storage.Error{Code: se.Code, Message: se.Message + fmt.Sprintf(format, args...), Err: err}
}
