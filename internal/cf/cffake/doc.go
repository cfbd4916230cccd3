// Package cffake is a stateful, in-process fake of the part of the Cloudflare
// REST API that mcp-cfstorage uses: accounts, API token verification, Workers
// KV (namespaces, keys, values, metadata, bulk operations), R2 buckets and
// D1 databases (list, create, get, delete, query and raw query; each
// database is an in-memory SQLite database that really runs the SQL).
//
// It follows Cloudflare's published API description (the shared reference
// OpenAPI document): the same paths, parameters and bounds, request bodies,
// envelopes ({success, errors, messages, result, result_info}) and error
// codes. Where that description is silent, the fake does what Cloudflare was
// observed to do, and each such choice is marked in a comment with its source
// or, where no source could be found, with the reason for the choice.
//
// A test starts one with Start and points the client at BaseURL:
//
//	srv := cffake.Start(t)
//	t.Setenv("CLOUDFLARE_BASE_URL", srv.BaseURL()) // …/client/v4
//	t.Setenv("CLOUDFLARE_API_TOKEN", cffake.DefaultToken)
//
// The defaults are one account (DefaultAccountID) and one token
// (DefaultToken) that may do everything. WithAccounts and WithTokens replace
// them (tokens lacking permissions, disabled or expired tokens, tokens scoped
// to some accounts, account-owned tokens); WithClock sets the clock and
// WithBucketHooks connects buckets to an object store. At run time a test can
// move the clock (Advance), make requests fail (FailNext, Inject), make
// answers trickle or stall (Slow), make bulk writes report keys as
// unsuccessful (FailBulkKeys), mark buckets non-empty (SetBucketObjectCount)
// and look at what the client sent (Requests, Count).
//
// Paths are routed as Cloudflare routes them: on the escaped path, split on
// "/" before any percent-decoding, so each parameter is exactly one path
// segment. A KV key containing "/" that the client did not escape reaches a
// different route (usually none: 404 with code 7003), and an unescaped "?" or
// "#" ends the path before the key does. Keys with "/", "?", "#", "%", spaces
// or non-ASCII characters round-trip only when escaped, for example with
// url.PathEscape.
//
// All state lives in memory, per account, guarded by a mutex; a Server is
// safe for concurrent use. Nothing is shared between Servers.
package cffake
