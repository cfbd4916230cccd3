package cffake

import (
	"fmt"
	"net/http"
)

// The Cloudflare errors the fake returns, in one place. The reference spec
// names few codes (7003 "No route for the URI" is its only failure example),
// so each constructor says where its status, code and message come from:
//
//   - "observed": the exact response quoted from a real Cloudflare call in
//     public issues, logs or client code (the citation names one).
//   - "KV table": the Workers KV namespace error table of Cloudflare's former
//     API docs (api.cloudflare.com/#workers-kv-namespace-errors), as copied
//     code by code into the early Rust wrangler's KV command, which cites
//     that page.
//   - "R2 docs": developers.cloudflare.com/r2/api/error-codes.
//   - "runtime": the message the Workers KV runtime and Miniflare give for
//     the same rule (miniflare src/plugins/kv/gateway.ts); the REST API
//     enforces the same limits with the same wording.
//   - "chosen": no source was found; the reason is given.

// --- API gateway: routing, authentication, bodies -------------------------

// errNoRoute is what Cloudflare answers for a path it cannot route, observed
// as a pair: 7003 "Could not route to <path>, perhaps your object identifier
// is invalid?" then 7000 "No route for that URI" (e.g. terraform and SDK test
// fixtures quoting live responses). The spec's failure example shortens it to
// 7003 "No route for the URI"; the first code is 7003 either way. Status:
// 404; one report shows 400 for an ill-formed identifier, but 404 is what
// most observations show and what a client should treat as "not here".
func errNoRoute(path string) *apiError {
	return &apiError{status: http.StatusNotFound, errors: []apiMessage{
		{Code: 7003, Message: fmt.Sprintf("Could not route to %s, perhaps your object identifier is invalid?", path)},
		{Code: 7000, Message: "No route for that URI"},
	}}
}

// errMethodNotAllowed: observed 405 with 7001 for a method a path does not
// serve ("GET not supported for requested URI.", ks1686/peaproxy#45; "Method
// PUT not available for that URI.", public DDNS script logs). The fake uses
// the second wording and adds the Allow header HTTP asks of a 405.
func errMethodNotAllowed(method string, allow []string) *apiError {
	e := fail(http.StatusMethodNotAllowed, 7001, "Method %s not available for that URI.", method)
	e.header = http.Header{"Allow": allow}
	return e
}

// errMissingAuth: observed 400 with 9106 "Missing X-Auth-Key, X-Auth-Email or
// Authorization headers" for a request without credentials (Radar API checks
// published with their raw responses).
func errMissingAuth() *apiError {
	return fail(http.StatusBadRequest, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
}

// errBadAuthHeader: observed 400 with 6003 "Invalid request headers" and an
// error_chain of 6111 "Invalid format for Authorization header"
// (Ultimate-Multisite/ultimate-multisite#73).
func errBadAuthHeader() *apiError {
	return &apiError{status: http.StatusBadRequest, errors: []apiMessage{{
		Code:       6003,
		Message:    "Invalid request headers",
		ErrorChain: []apiMessage{{Code: 6111, Message: "Invalid format for Authorization header"}},
	}}}
}

// errInvalidAccessToken is the answer to a token Cloudflare does not accept
// (unknown, disabled, expired, not yet valid) on any endpoint but the verify
// ones. Code 9109 with 403 is observed (jeessy2/ddns-go#1341); the message
// "Invalid access token" is the one Cloudflare's client fixtures quote for an
// unknown token.
func errInvalidAccessToken() *apiError {
	return fail(http.StatusForbidden, 9109, "Invalid access token")
}

// errInvalidAPIToken is what the verify endpoints answer for a token they do
// not know, including an account-owned token at /user/tokens/verify:
// observed 401 with 1000 "Invalid API Token" (benvinegar/counterscale#268).
func errInvalidAPIToken() *apiError {
	return fail(http.StatusUnauthorized, 1000, "Invalid API Token")
}

// errAuthentication: 403 with 10000 "Authentication error" is what a valid
// token gets for an account or an operation its permissions do not cover
// (widely observed, e.g. lablabs/cloudflare-exporter#120). Cloudflare does
// not say which permission is missing, and neither does the fake.
func errAuthentication() *apiError {
	return fail(http.StatusForbidden, 10000, "Authentication error")
}

// errAccountOwnedList: observed 400 with 1001 "List accounts endpoint does
// not support account owned tokens." (edgefirst-dev/starter#3).
func errAccountOwnedList() *apiError {
	return fail(http.StatusBadRequest, 1001, "List accounts endpoint does not support account owned tokens.")
}

// errAccountsQuery rejects a bad query parameter of GET /accounts. Chosen:
// 400 (the spec's 4XX) with 1001, the code the accounts endpoint was observed
// to use for a request it refuses (see errAccountOwnedList).
func errAccountsQuery(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 1001, format, args...)
}

// errMalformedJSON: observed 400 with 6007 "Malformed JSON in request body"
// (a Cloudflare API failure quoted in a Kubernetes operator's test fixture).
func errMalformedJSON() *apiError {
	return fail(http.StatusBadRequest, 6007, "Malformed JSON in request body")
}

// errRateLimited is the body of an injected 429: observed 971 "Please wait
// and consider throttling your request speed" (terraform-provider-cloudflare
// #5505 and DNS client fixtures).
func errRateLimited() *apiError {
	return fail(http.StatusTooManyRequests, 971, "Please wait and consider throttling your request speed")
}

// errInternal is the body of an injected 5xx and of a failing bucket hook.
// Chosen: 10001 "service temporarily unavailable" from the KV table; real 5xx
// responses are often an HTML page from the edge, which Fault.Body can mimic.
func errInternal(status int) *apiError {
	return fail(status, 10001, "service temporarily unavailable")
}

// --- Workers KV -------------------------------------------------------------

// kvKeyNotFound: observed 404 with 10009 "get: 'key not found'" for a missing
// (or expired) key.
func kvKeyNotFound() *apiError {
	return fail(http.StatusNotFound, 10009, "get: 'key not found'")
}

// kvNamespaceNotFound: observed "namespace not found [code: 10013]"
// (wrangler output for a well-formed id that does not exist); 404 chosen, as
// for every other missing resource.
func kvNamespaceNotFound() *apiError {
	return fail(http.StatusNotFound, 10013, "namespace not found")
}

// kvMalformedNamespaceID: "could not parse UUID from request's namespace_id"
// (the error strings of aozd4v/cloudflare-workers-kv-dotnet-client) with
// 10011 "malformed namespace ID" of the KV table, which wrangler was observed
// to get for an ill-formed id; status 400 chosen.
func kvMalformedNamespaceID() *apiError {
	return fail(http.StatusBadRequest, 10011, "could not parse UUID from request's namespace_id")
}

// kvDuplicateTitle: observed "a namespace with this account ID and title
// already exists [code: 10014]"; the spec says the status is 400.
func kvDuplicateTitle() *apiError {
	return fail(http.StatusBadRequest, 10014, "a namespace with this account ID and title already exists")
}

// kvMissingTitle: 10019 "missing title" from the KV table; 400.
func kvMissingTitle() *apiError {
	return fail(http.StatusBadRequest, 10019, "missing title")
}

// kvBadPage, kvBadPerPage and kvBadLimit reject query parameters outside the
// spec's bounds with the KV table's codes 10007 "malformed page argument",
// 10008 "malformed per_page argument" and 10028 "invalid limit argument".
func kvBadPage(raw string) *apiError {
	return fail(http.StatusBadRequest, 10007, "Invalid page of %s. Please specify an integer of at least 1.", raw)
}

func kvBadPerPage(raw string, lo, hi int) *apiError {
	return fail(http.StatusBadRequest, 10008, "Invalid per_page of %s. Please specify an integer between %d and %d.", raw, lo, hi)
}

func kvBadLimit(raw string, lo, hi int) *apiError {
	// The runtime words it "Invalid key_count_limit of N…", naming the
	// internal parameter; the REST parameter is limit.
	return fail(http.StatusBadRequest, 10028, "Invalid limit of %s. Please specify an integer between %d and %d.", raw, lo, hi)
}

// kvIllegalKey: an empty key, ".", ".." or a key that is not valid
// percent-encoding; 400 and the runtime's wording, code 10023 "illegal key
// name" from the KV table.
func kvIllegalKey(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10023, format, args...)
}

// kvKeyTooLong: runtime 414 "UTF-8 encoded length of N exceeds key length
// limit of 512."; code 10030 "key too long" from the KV table.
func kvKeyTooLong(n int) *apiError {
	return fail(http.StatusRequestURITooLong, 10030, "UTF-8 encoded length of %d exceeds key length limit of %d.", n, maxKeyBytes)
}

// kvBadExpiration and kvBadTTL: runtime 400 "Invalid expiration of …" and
// "Invalid expiration_ttl of …" (observed from production Workers, e.g.
// ztjhz/BetterChatGPT#48, cloudflare/workers-oauth-provider#233); codes
// 10033 "invalid expiration" and 10034 "invalid expiration ttl" from the KV
// table.
func kvBadExpiration(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10033, format, args...)
}

func kvBadTTL(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10034, format, args...)
}

// kvTooLarge: runtime 413 "Value length of N exceeds limit of 26214400." and
// "Metadata length of N exceeds limit of 1024."; code 10024 "payload too
// large" from the KV table. Also used, chosen, for bulk requests over 10,000
// entries or 100 MB: the spec states those limits but not the answer, and
// 413 "payload too large" is what the KV table offers for a request that is
// too big.
func kvTooLarge(format string, args ...any) *apiError {
	return fail(http.StatusRequestEntityTooLarge, 10024, format, args...)
}

// kvMalformedValue: 10012 "malformed value" from the KV table, for a value
// the request does not carry or that does not decode (multipart without a
// value part, bulk entry without value, bad base64); 400.
func kvMalformedValue(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10012, format, args...)
}

// kvInvalidRequest: 10029 "invalid request" from the KV table, for the
// remaining bad input (bulk-get key count and type, cursors, metadata that is
// not JSON). The bulk-get messages are the runtime's.
func kvInvalidRequest(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10029, format, args...)
}

// --- R2 buckets ---------------------------------------------------------------

// r2InvalidBucketName: R2 docs 10005 InvalidBucketName, 400; message
// observed as "The specified bucket name is not valid. [code: 10005]".
func r2InvalidBucketName() *apiError {
	return fail(http.StatusBadRequest, 10005, "The specified bucket name is not valid.")
}

// r2NoSuchBucket: R2 docs 10006 NoSuchBucket, 404; message observed as "The
// specified bucket does not exist. [code: 10006]".
func r2NoSuchBucket() *apiError {
	return fail(http.StatusNotFound, 10006, "The specified bucket does not exist.")
}

// r2BucketExists: creating a bucket the account already has, observed from
// the REST API as 409 "The bucket you tried to create already exists, and
// you own it. [code: 10004]" (wrangler output quoted in public tests).
// R2 docs' 10073 BucketConflict is for a name taken by someone else, which a
// single-tenant fake cannot produce.
func r2BucketExists() *apiError {
	return fail(http.StatusConflict, 10004, "The bucket you tried to create already exists, and you own it.")
}

// r2BucketNotEmpty: R2 docs 10008 BucketNotEmpty, 409; message observed as
// "The bucket you tried to delete is not empty".
func r2BucketNotEmpty() *apiError {
	return fail(http.StatusConflict, 10008, "The bucket you tried to delete is not empty.")
}

// r2InvalidArgument rejects a bad query parameter, header or body field of
// the bucket endpoints (location hint, storage class, jurisdiction, per_page,
// cursor). Chosen: 400 per the spec's 4XX; R2 docs list no code for it, so
// the generic 10029 "invalid request" is used.
func r2InvalidArgument(format string, args ...any) *apiError {
	return fail(http.StatusBadRequest, 10029, format, args...)
}
