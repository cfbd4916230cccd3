package cffake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Defaults used when no WithAccounts or WithTokens option is given.
const (
	// DefaultAccountID is the id of the default account. It is the example
	// account id of Cloudflare's API description.
	DefaultAccountID = "023e105f4ecef8ad9ca31a8372d0c353"
	// DefaultAccountName is the name of the default account.
	DefaultAccountName = "cffake account"
	// DefaultToken is the value of the default API token, which is active,
	// never expires, carries every permission and sees every account. Like a
	// real Cloudflare token it is 40 characters long.
	DefaultToken = "cffake-default-api-token-0123456789abcde"
)

// Permission is something a token may do, in a short notation of the
// permission groups Cloudflare's dashboard offers. An edit permission
// implies the matching read permission, as it does at Cloudflare (the KV
// bulk-get endpoint, for one, accepts either "Workers KV Storage Write" or
// "Workers KV Storage Read").
type Permission string

const (
	// PermAccountRead is "Account Settings: Read": list accounts.
	PermAccountRead Permission = "account:read"
	// PermKVRead is "Workers KV Storage: Read".
	PermKVRead Permission = "kv:read"
	// PermKVEdit is "Workers KV Storage: Edit".
	PermKVEdit Permission = "kv:edit"
	// PermR2Read is "Workers R2 Storage: Read".
	PermR2Read Permission = "r2:read"
	// PermR2Edit is "Workers R2 Storage: Edit".
	PermR2Edit Permission = "r2:edit"
	// PermD1Read is "D1: Read": list and get databases, and run queries
	// that only read.
	PermD1Read Permission = "d1:read"
	// PermD1Edit is "D1: Edit": create and delete databases, and run
	// queries that write.
	PermD1Edit Permission = "d1:edit"
)

// AllPermissions returns every permission the fake knows.
func AllPermissions() []Permission {
	return []Permission{PermAccountRead, PermKVRead, PermKVEdit, PermR2Read, PermR2Edit, PermD1Read, PermD1Edit}
}

// implied maps a permission to the ones it grants besides itself.
func implied(p Permission) []Permission {
	switch p {
	case PermKVEdit:
		return []Permission{PermKVRead}
	case PermR2Edit:
		return []Permission{PermR2Read}
	case PermD1Edit:
		return []Permission{PermD1Read}
	}
	return nil
}

// TokenStatus is the status the verify endpoints report, one of the values
// of the spec's iam_status enum.
type TokenStatus string

// The token statuses. A disabled or expired token can still verify itself
// (and learn its status); every other request gets 403 (code 9109).
const (
	TokenActive   TokenStatus = "active"
	TokenDisabled TokenStatus = "disabled"
	TokenExpired  TokenStatus = "expired"
)

// Account is a Cloudflare account the fake serves.
type Account struct {
	// ID is 32 lowercase hexadecimal digits, like a real account id: the
	// fake routes any other id in a path to Cloudflare's 7003 error.
	ID   string
	Name string
}

// Token is an API token the fake accepts.
type Token struct {
	// Value is the secret a client sends as "Authorization: Bearer <Value>".
	// Letters, digits, "-" and "_" only, as in real tokens.
	Value string
	// ID is the token's id (32 lowercase hex digits), reported by the verify
	// endpoints. When empty it is derived from Value, see TokenID.
	ID string
	// Status is TokenActive when empty. A token whose ExpiresOn has passed
	// (by the fake's clock) is reported as TokenExpired.
	Status    TokenStatus
	ExpiresOn time.Time // zero: never expires
	NotBefore time.Time // zero: valid from the start
	// Permissions is what the token may do. A token without permissions can
	// still verify itself, and nothing else: every other request gets
	// Cloudflare's 403 "Authentication error" (code 10000).
	Permissions []Permission
	// Accounts are the ids of the accounts the token may reach: nil means
	// every account of the fake, an empty slice none. Ignored for
	// account-owned tokens.
	Accounts []string
	// Owner makes this an Account API token (an "account-owned" token) of the
	// account with this id: it reaches only that account, verifies only at
	// /accounts/{Owner}/tokens/verify, and may not list accounts.
	Owner string
}

// TokenID is the id the fake gives a token whose ID is empty: the first 32
// hex digits of the SHA-256 of its value. Deterministic, so that tests can
// predict the S3 access key id a backend derives from the verify endpoint.
func TokenID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:16])
}

// BucketRef names an R2 bucket: buckets with the same name may exist in
// several jurisdictions of one account.
type BucketRef struct {
	AccountID string
	// Jurisdiction is "default", "eu" or "fedramp"; "" means "default".
	Jurisdiction string
	Name         string
}

// BucketHooks connect the fake's buckets to the store that holds their
// objects, typically an in-process S3 server, since objects never pass
// through the REST API. Every hook is optional. Hooks run while the fake
// holds its lock: they must not call the fake. An error from a hook makes the
// request fail with 500 and changes nothing.
type BucketHooks struct {
	// Created is called after a bucket passed validation, before it exists.
	Created func(b BucketRef) error
	// Deleted is called before an empty bucket is removed.
	Deleted func(b BucketRef) error
	// ObjectCount reports how many objects a bucket holds; deleting a bucket
	// that holds any fails with 409 (code 10008). It is consulted besides the
	// counts set with SetBucketObjectCount.
	ObjectCount func(b BucketRef) (int, error)
}

// Option configures a Server.
type Option func(*config)

type config struct {
	accounts []Account
	tokens   []Token
	now      func() time.Time
	hooks    BucketHooks
}

// WithAccounts replaces the default account with these accounts.
func WithAccounts(accounts ...Account) Option {
	return func(c *config) { c.accounts = append([]Account(nil), accounts...) }
}

// WithTokens replaces the default token with these tokens. To keep an
// all-powerful token beside restricted ones, pass one with AllPermissions.
func WithTokens(tokens ...Token) Option {
	return func(c *config) { c.tokens = append([]Token(nil), tokens...) }
}

// WithClock sets the fake's clock, which decides when KV keys and tokens
// expire. The default is time.Now. Advance moves either clock forward.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithBucketHooks connects buckets to an object store, see BucketHooks.
func WithBucketHooks(h BucketHooks) Option {
	return func(c *config) { c.hooks = h }
}

func defaultConfig() config {
	return config{
		accounts: []Account{{ID: DefaultAccountID, Name: DefaultAccountName}},
		tokens:   []Token{{Value: DefaultToken, Permissions: AllPermissions()}},
		now:      time.Now,
	}
}

// validate reports the first configuration mistake. New panics with it: the
// mistake is in the test, and failing loudly at set-up beats a fake that
// quietly serves something other than what the test meant.
func (c *config) validate() error {
	if len(c.accounts) == 0 {
		return fmt.Errorf("no accounts")
	}
	seen := map[string]bool{}
	for _, a := range c.accounts {
		if !isHex32(a.ID) {
			return fmt.Errorf("account id %q is not 32 lowercase hex digits", a.ID)
		}
		if seen[a.ID] {
			return fmt.Errorf("account id %q given twice", a.ID)
		}
		seen[a.ID] = true
	}
	values := map[string]bool{}
	for _, t := range c.tokens {
		if !validTokenValue(t.Value) {
			return fmt.Errorf("token value %q is empty or has characters other than letters, digits, '-' and '_'", t.Value)
		}
		if values[t.Value] {
			return fmt.Errorf("token value %q given twice", t.Value)
		}
		values[t.Value] = true
		if t.ID != "" && !isHex32(t.ID) {
			return fmt.Errorf("token id %q is not 32 lowercase hex digits", t.ID)
		}
		switch t.Status {
		case "", TokenActive, TokenDisabled, TokenExpired:
		default:
			return fmt.Errorf("token status %q is not active, disabled or expired", t.Status)
		}
		for _, p := range t.Permissions {
			if !slices.Contains(AllPermissions(), p) {
				return fmt.Errorf("unknown permission %q", p)
			}
		}
		for _, id := range t.Accounts {
			if !seen[id] {
				return fmt.Errorf("token scoped to unknown account %q", id)
			}
		}
		if t.Owner != "" && !seen[t.Owner] {
			return fmt.Errorf("token owned by unknown account %q", t.Owner)
		}
	}
	return nil
}

func validTokenValue(v string) bool {
	if v == "" {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}
