// Package storage is the domain every MCP layer sees: the KV and R2
// interfaces that backends implement, their types, the typed errors that map
// to the tool error codes, and Cloudflare's limits and name rules.
//
// Validation lives here, once: Guard wraps any backend so that every call is
// checked against Cloudflare's rules before it reaches the backend, which
// then only has to store and fetch.
package storage
