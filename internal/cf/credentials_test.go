package cf

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

var (
	accountA = cffake.Account{ID: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Name: "Alpha Ltd"}
	accountB = cffake.Account{ID: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", Name: "Beta GmbH"}
)

func TestNewDoesNoIO(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	_ = b.KV()
	_ = b.R2()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if reqs := f.api.Requests(); len(reqs) != 0 {
		t.Errorf("New and Close made %d requests, want none: %+v", len(reqs), reqs)
	}
	if reqs := f.s3.requests(); len(reqs) != 0 {
		t.Errorf("New made %d S3 requests", len(reqs))
	}
}

func TestAccountResolution(t *testing.T) {
	t.Run("One", func(t *testing.T) {
		f := newFakeCloudflare(t, cffake.WithAccounts(accountA))
		b := f.backend(t, nil)
		for range 3 {
			if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if n := f.api.Count("GET /accounts"); n != 1 {
			t.Errorf("the account was looked up %d times, want once", n)
		}
		for _, r := range f.api.Requests() {
			if strings.Contains(r.Path, "/storage/kv/") && !strings.HasPrefix(r.Path, "/accounts/"+accountA.ID+"/") {
				t.Errorf("a call went to %s, not to the token's only account", r.Path)
			}
		}
	})

	t.Run("Several", func(t *testing.T) {
		f := newFakeCloudflare(t, cffake.WithAccounts(accountA, accountB))
		b := f.backend(t, nil)
		_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
		wantCode(t, err, storage.CodeInvalidArgument, "CLOUDFLARE_ACCOUNT_ID", "2 accounts",
			accountA.ID, accountA.Name, accountB.ID, accountB.Name)

		// Naming one works, without a lookup.
		b = f.backend(t, func(c *Config) { c.AccountID = accountB.ID })
		f.api.ResetRequests()
		if _, err := b.KV().CreateNamespace(t.Context(), "in B"); err != nil {
			t.Fatal(err)
		}
		if n := f.api.Count("GET /accounts"); n != 0 {
			t.Errorf("CLOUDFLARE_ACCOUNT_ID set, and still %d lookups", n)
		}
	})

	t.Run("None", func(t *testing.T) {
		f := newFakeCloudflare(t, cffake.WithAccounts(accountA), cffake.WithTokens(cffake.Token{
			Value: "scoped-to-nothing-0123456789", Permissions: cffake.AllPermissions(), Accounts: []string{},
		}))
		b := f.backend(t, func(c *Config) { c.APIToken = "scoped-to-nothing-0123456789" })
		_, err := b.R2().ListBuckets(t.Context(), storage.ListOptions{})
		wantCode(t, err, storage.CodePermissionDenied, "no account", "CLOUDFLARE_ACCOUNT_ID")
	})

	t.Run("NoAccountPermission", func(t *testing.T) {
		f := newFakeCloudflare(t, cffake.WithTokens(cffake.Token{
			Value: "kv-only-0123456789", Permissions: []cffake.Permission{cffake.PermKVEdit},
		}))
		b := f.backend(t, func(c *Config) { c.APIToken = "kv-only-0123456789" })
		_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
		wantCode(t, err, storage.CodePermissionDenied, "Account Settings:Read", "CLOUDFLARE_ACCOUNT_ID")
	})

	t.Run("AccountOwnedToken", func(t *testing.T) {
		f := newFakeCloudflare(t, cffake.WithTokens(cffake.Token{
			Value: "account-owned-0123456789", Permissions: cffake.AllPermissions(), Owner: cffake.DefaultAccountID,
		}))
		b := f.backend(t, func(c *Config) { c.APIToken = "account-owned-0123456789" })
		_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
		wantCode(t, err, storage.CodePermissionDenied, "account API token", "CLOUDFLARE_ACCOUNT_ID")
	})

	t.Run("FailureIsNotKept", func(t *testing.T) {
		f := newFakeCloudflare(t)
		b := f.backend(t, func(c *Config) { c.Retry.Attempts = 1 })
		f.api.FailNext(1, 503, "")
		_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
		wantCode(t, err, storage.CodeUnavailable)
		if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{}); err != nil {
			t.Errorf("after the outage ended: %v", err)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		f := newFakeCloudflare(t)
		b := f.backend(t, nil)
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := f.api.Count("GET /accounts"); n != 1 {
			t.Errorf("20 first calls looked the account up %d times, want once", n)
		}
	})
}

// captureObjects replaces the S3 half of b with one that records its
// configuration and fails every call.
func captureObjects(b *Backend) func() (objectConfig, int) {
	var (
		mu    sync.Mutex
		got   objectConfig
		calls int
	)
	b.newObjects = func(c objectConfig) (r2ObjectOps, error) {
		mu.Lock()
		defer mu.Unlock()
		got, calls = c, calls+1
		return nil, errors.New("captured")
	}
	return func() (objectConfig, int) {
		mu.Lock()
		defer mu.Unlock()
		return got, calls
	}
}

func TestDerivedS3Credentials(t *testing.T) {
	secretOf := func(token string) string {
		sum := sha256.Sum256([]byte(token))
		return hex.EncodeToString(sum[:])
	}

	t.Run("UserToken", func(t *testing.T) {
		f := newFakeCloudflare(t)
		b := f.backend(t, nil)
		captured := captureObjects(b)
		_, _ = b.R2().ListObjects(t.Context(), "bucket", storage.ObjectListOptions{})
		cfg, _ := captured()
		if cfg.AccessKeyID != cffake.TokenID(cffake.DefaultToken) {
			t.Errorf("access key id %q, want the token's id %q", cfg.AccessKeyID, cffake.TokenID(cffake.DefaultToken))
		}
		if cfg.SecretAccessKey != secretOf(cffake.DefaultToken) {
			t.Error("the secret is not the hex SHA-256 of the token")
		}
		if cfg.AccountID != cffake.DefaultAccountID || cfg.Endpoint != f.s3.srv.URL {
			t.Errorf("account %q endpoint %q", cfg.AccountID, cfg.Endpoint)
		}
	})

	t.Run("AccountOwnedToken", func(t *testing.T) {
		const token = "account-owned-0123456789"
		f := newFakeCloudflare(t, cffake.WithTokens(cffake.Token{
			Value: token, Permissions: cffake.AllPermissions(), Owner: cffake.DefaultAccountID,
		}))
		b := f.backend(t, func(c *Config) { c.APIToken, c.AccountID = token, cffake.DefaultAccountID })
		captured := captureObjects(b)
		_, _ = b.R2().ListObjects(t.Context(), "bucket", storage.ObjectListOptions{})
		cfg, _ := captured()
		if cfg.AccessKeyID != cffake.TokenID(token) || cfg.SecretAccessKey != secretOf(token) {
			t.Errorf("credentials of an account API token: id %q", cfg.AccessKeyID)
		}
		if n := f.api.Count("GET /accounts/{account_id}/tokens/verify"); n != 1 {
			t.Errorf("account verify endpoint called %d times, want 1", n)
		}
	})

	t.Run("Given", func(t *testing.T) {
		f := newFakeCloudflare(t)
		b := f.backend(t, func(c *Config) { c.R2AccessKeyID, c.R2SecretAccessKey = "AKID", "given-secret" })
		captured := captureObjects(b)
		_, _ = b.R2().HeadObject(t.Context(), "bucket", "k")
		cfg, _ := captured()
		if cfg.AccessKeyID != "AKID" || cfg.SecretAccessKey != "given-secret" {
			t.Errorf("given credentials not used: %q", cfg.AccessKeyID)
		}
		if n := f.api.Count("GET /user/tokens/verify"); n != 0 {
			t.Errorf("the token was verified %d times though the credentials were given", n)
		}
	})

	t.Run("ExpiredToken", func(t *testing.T) {
		const token = "expiring-0123456789"
		f := newFakeCloudflare(t, cffake.WithTokens(cffake.Token{
			Value: token, Permissions: cffake.AllPermissions(), ExpiresOn: time.Now().Add(time.Hour),
		}))
		b := f.backend(t, func(c *Config) { c.APIToken, c.AccountID = token, cffake.DefaultAccountID })
		captureObjects(b)
		f.api.Advance(2 * time.Hour)
		_, err := b.R2().ListObjects(t.Context(), "bucket", storage.ObjectListOptions{})
		wantCode(t, err, storage.CodePermissionDenied, "expired")
	})

	t.Run("MadeOnce", func(t *testing.T) {
		f := newFakeCloudflare(t)
		b := f.backend(t, nil)
		for _, key := range []string{"a", "b", "c"} {
			if _, err := b.R2().HeadObject(t.Context(), "no-such-bucket", key); storage.CodeOf(err) != storage.CodeNotFound {
				t.Fatalf("HeadObject: %v", err)
			}
		}
		if n := f.api.Count("GET /user/tokens/verify"); n != 1 {
			t.Errorf("the token was verified %d times for three object calls, want once", n)
		}
	})
}

func TestDescribe(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	d, err := b.Describe(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d.Backend != "cloudflare" || d.AccountID != cffake.DefaultAccountID || d.TokenStatus != "active" ||
		d.APIReachable == nil || !*d.APIReachable || d.APIError != "" {
		t.Errorf("Describe = %+v, want the cloudflare backend, the token's only account, active, reachable", d)
	}
	if b.Name() != "cloudflare" {
		t.Errorf("Name = %q", b.Name())
	}

	// A disabled token can still verify itself: Describe says why calls fail.
	const token = "disabled-0123456789"
	f = newFakeCloudflare(t, cffake.WithTokens(cffake.Token{Value: token, Status: cffake.TokenDisabled}))
	b = f.backend(t, func(c *Config) { c.APIToken, c.AccountID = token, cffake.DefaultAccountID })
	d, err = b.Describe(t.Context())
	if err != nil || d.TokenStatus != "disabled" {
		t.Errorf("Describe with a disabled token = %+v, %v", d, err)
	}
	_, err = b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	wantCode(t, err, storage.CodePermissionDenied, "does not accept the API token")
}

func TestPermissionErrorsNameThePermission(t *testing.T) {
	const token = "read-only-0123456789"
	f := newFakeCloudflare(t, cffake.WithTokens(cffake.Token{
		Value: token, Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVRead},
	}))
	b := f.backend(t, func(c *Config) { c.APIToken = token })
	kv, r2, ctx := b.KV(), b.R2(), t.Context()

	if _, err := kv.ListNamespaces(ctx, storage.ListOptions{}); err != nil {
		t.Fatalf("a KV read with KV read permission: %v", err)
	}
	_, err := kv.CreateNamespace(ctx, "x")
	wantCode(t, err, storage.CodePermissionDenied, "Workers KV Storage:Edit")
	_, err = r2.ListBuckets(ctx, storage.ListOptions{})
	wantCode(t, err, storage.CodePermissionDenied, "Workers R2 Storage:Read")
	_, err = r2.CreateBucket(ctx, storage.BucketSpec{Name: "abc"})
	wantCode(t, err, storage.CodePermissionDenied, "Workers R2 Storage:Edit")
	wantCode(t, r2.DeleteBucket(ctx, "abc"), storage.CodePermissionDenied, "Workers R2 Storage:Edit")
}
