package cffake_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
)

const otherAcct = "0123456789abcdef0123456789abcdef"

func TestAuthentication(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	a, _ := newAPI(t,
		cffake.WithClock(func() time.Time { return t0 }),
		cffake.WithAccounts(
			cffake.Account{ID: acct, Name: "main"},
			cffake.Account{ID: otherAcct, Name: "other"},
		),
		cffake.WithTokens(
			cffake.Token{Value: cffake.DefaultToken, Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "kv-read", Permissions: []cffake.Permission{cffake.PermKVRead}},
			cffake.Token{Value: "kv-edit", Permissions: []cffake.Permission{cffake.PermKVEdit}},
			cffake.Token{Value: "r2-only", Permissions: []cffake.Permission{cffake.PermR2Edit}},
			cffake.Token{Value: "nothing"},
			cffake.Token{Value: "disabled", Status: cffake.TokenDisabled, Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "expired", ExpiresOn: t0.Add(-time.Second), Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "not-yet", NotBefore: t0.Add(time.Hour), Permissions: cffake.AllPermissions()},
			cffake.Token{Value: "other-only", Accounts: []string{otherAcct}, Permissions: cffake.AllPermissions()},
		),
	)
	list := kvBase
	create := func(c *api) *response {
		return c.json(http.MethodPost, kvBase, map[string]string{"title": "t-" + c.token})
	}
	tests := []struct {
		name   string
		call   func() *response
		status int
		code   int // 0: success
	}{
		{"no Authorization header", func() *response { return a.as("").get(list) }, 400, 9106},
		{"not a bearer token", func() *response { return a.as("").get(list, "Authorization", "Basic Zm9vOmJhcg==") }, 400, 6003},
		{"empty bearer token", func() *response { return a.as("").get(list, "Authorization", "Bearer ") }, 400, 6003},
		{"bearer token with a bad character", func() *response { return a.as("").get(list, "Authorization", "Bearer a.b") }, 400, 6003},
		{"unknown token", func() *response { return a.as("unknown").get(list) }, 403, 9109},
		{"disabled token", func() *response { return a.as("disabled").get(list) }, 403, 9109},
		{"expired token", func() *response { return a.as("expired").get(list) }, 403, 9109},
		{"token not yet valid", func() *response { return a.as("not-yet").get(list) }, 403, 9109},
		{"read token reads", func() *response { return a.as("kv-read").get(list) }, 200, 0},
		{"read token cannot write", func() *response { return create(a.as("kv-read")) }, 403, 10000},
		{"edit token writes", func() *response { return create(a.as("kv-edit")) }, 200, 0},
		{"edit implies read", func() *response { return a.as("kv-edit").get(list) }, 200, 0},
		{"R2 token cannot read KV", func() *response { return a.as("r2-only").get(list) }, 403, 10000},
		{"R2 token lists buckets", func() *response { return a.as("r2-only").get(r2Base) }, 200, 0},
		{"token without permissions", func() *response { return a.as("nothing").get(list) }, 403, 10000},
		{"token scoped to another account", func() *response { return a.as("other-only").get(list) }, 403, 10000},
		{"token scoped to that account", func() *response {
			return a.as("other-only").get("/accounts/" + otherAcct + "/storage/kv/namespaces")
		}, 200, 0},
		{"well-formed account that does not exist", func() *response {
			return a.get("/accounts/ffffffffffffffffffffffffffffffff/storage/kv/namespaces")
		}, 403, 10000},
		{"malformed account id", func() *response { return a.get("/accounts/not-an-id/storage/kv/namespaces") }, 404, 7003},
		{"lowercase bearer scheme", func() *response {
			return a.as("").get(list, "Authorization", "bearer "+cffake.DefaultToken)
		}, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.call()
			if tt.code == 0 {
				r.ok(t, nil)
				return
			}
			r.fails(t, tt.status, tt.code)
		})
	}
}

func TestAuthHeaderErrorChain(t *testing.T) {
	t.Parallel()
	a, _ := newAPI(t)
	r := a.as("").get(kvBase, "Authorization", "Token abc").fails(t, 400, 6003)
	chain := r.env.Errors[0].ErrorChain
	if len(chain) != 1 || chain[0].Code != 6111 {
		t.Fatalf("want error_chain [6111], got %s", r.body)
	}
}

func TestExpiryOfTokensFollowsClock(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a, srv := newAPI(t,
		cffake.WithClock(func() time.Time { return t0 }),
		cffake.WithTokens(cffake.Token{Value: "short", ExpiresOn: t0.Add(time.Hour), Permissions: cffake.AllPermissions()}),
	)
	c := a.as("short")
	c.get(kvBase).ok(t, nil)
	srv.Advance(time.Hour)
	c.get(kvBase).fails(t, 403, 9109)
	var tok struct{ Status string }
	c.get("/user/tokens/verify").ok(t, &tok)
	if tok.Status != "expired" {
		t.Fatalf("verify status = %q, want expired", tok.Status)
	}
}

func TestNewPanicsOnBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opt  cffake.Option
	}{
		{"account id not hex", cffake.WithAccounts(cffake.Account{ID: "acc1"})},
		{"no accounts", cffake.WithAccounts()},
		{"duplicate account", cffake.WithAccounts(cffake.Account{ID: acct}, cffake.Account{ID: acct})},
		{"token with a space", cffake.WithTokens(cffake.Token{Value: "a b"})},
		{"token for unknown account", cffake.WithTokens(cffake.Token{Value: "x", Accounts: []string{otherAcct}})},
		{"token owned by unknown account", cffake.WithTokens(cffake.Token{Value: "x", Owner: otherAcct})},
		{"unknown permission", cffake.WithTokens(cffake.Token{Value: "x", Permissions: []cffake.Permission{"kv:admin"}})},
		{"bad token id", cffake.WithTokens(cffake.Token{Value: "x", ID: "short"})},
		{"bad status", cffake.WithTokens(cffake.Token{Value: "x", Status: "revoked"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("New did not panic")
				}
			}()
			cffake.New(tt.opt)
		})
	}
}
