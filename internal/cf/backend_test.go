package cf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestNewChecksConfig(t *testing.T) {
	const secret = "s3cr3t-token-value"
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no token", Config{}, "CLOUDFLARE_API_TOKEN is not set"},
		{"token with a line break", Config{APIToken: secret + "\n"}, "CLOUDFLARE_API_TOKEN holds a character"},
		{"half an S3 key pair", Config{APIToken: secret, R2AccessKeyID: "id"}, "R2_SECRET_ACCESS_KEY"},
		{"relative base URL", Config{APIToken: secret, BaseURL: "api.example.com"}, "CLOUDFLARE_BASE_URL"},
		{"bad endpoint", Config{APIToken: secret, R2Endpoint: "ftp://x"}, "R2_ENDPOINT"},
		{"bad jurisdiction", Config{APIToken: secret, Jurisdiction: "moon"}, "jurisdiction"},
		{"path in the account id", Config{APIToken: secret, AccountID: "../user"}, "CLOUDFLARE_ACCOUNT_ID"},
	}
	for _, c := range cases {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want an error about %s", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: the error %q shows the token", c.name, err)
		}
	}
	if _, err := New(Config{APIToken: secret}); err != nil {
		t.Errorf("New with a token only: %v", err)
	}
}

func TestCancellation(t *testing.T) {
	// A server that answers only when the request is abandoned. It reads
	// the body first: only then does it notice a client that goes away.
	arrived := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	b, err := New(Config{APIToken: cffake.DefaultToken, AccountID: cffake.DefaultAccountID, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := b.KV().ListNamespaces(ctx, storage.ListOptions{})
		wantCancelled(t, err)
	})

	t.Run("During", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			<-arrived
			cancel()
		}()
		done := make(chan error, 1)
		go func() {
			done <- b.KV().Put(ctx, cffake.DefaultAccountID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1})
		}()
		select {
		case err := <-done:
			wantCancelled(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("a cancelled call did not return")
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		b, err := New(Config{APIToken: cffake.DefaultToken, AccountID: cffake.DefaultAccountID, BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = b.KV().GetNamespace(t.Context(), "0123456789abcdef0123456789abcdef")
		wantCode(t, err, storage.CodeUnavailable, "no answer within")
		if time.Since(start) > 5*time.Second {
			t.Errorf("a 50 ms timeout took %s", time.Since(start))
		}
	})
}

func wantCancelled(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want the call cancelled", err)
	}
	if c := storage.CodeOf(err); c != storage.CodeUnavailable {
		t.Errorf("a cancelled call's code is %s, want unavailable", c)
	}
}

func TestClose(t *testing.T) {
	f := newFakeCloudflare(t)
	b := f.backend(t, nil)
	if _, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	_, err := b.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	wantCode(t, err, storage.CodeUnavailable, "closed")
}

// TestSecretsNeverShown drives the backend through successes and every kind
// of failure, and looks for the API token, the S3 secret derived from it and
// a given S3 secret in every error, result and log line.
func TestSecretsNeverShown(t *testing.T) {
	const (
		token       = "never-shown-token-0123456789abcdef"
		givenSecret = "never-shown-s3-secret-0123456789"
	)
	secrets := map[string]string{"API token": token, "derived S3 secret": derivedSecret(token), "given S3 secret": givenSecret}
	f := newFakeCloudflare(t, cffake.WithTokens(
		cffake.Token{Value: token, Permissions: []cffake.Permission{cffake.PermAccountRead, cffake.PermKVEdit, cffake.PermR2Read}},
	))
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var shown []string
	check := func(what string, v any) {
		shown = append(shown, fmt.Sprintf("%s: %v | %+v | %#v", what, v, v, v))
		if err, ok := v.(error); ok {
			shown = append(shown, storage.Describe(err))
			for _, e := range errorChain(err) {
				shown = append(shown, e.Error())
			}
		}
	}

	for _, given := range []bool{false, true} {
		b := f.backend(t, func(c *Config) {
			c.APIToken, c.Logger = token, logger
			if given {
				c.R2AccessKeyID, c.R2SecretAccessKey = "AKID", givenSecret
			}
		})
		check("config", b.cfg)
		logger.Info("config", "cfg", b.cfg)
		ctx := t.Context()
		ns, err := b.KV().CreateNamespace(ctx, "secrets")
		check("create", err)
		check("put", b.KV().Put(ctx, ns.ID, storage.KVPut{Key: "k", Body: strings.NewReader("v"), Size: 1}))
		_, err = b.KV().Get(ctx, ns.ID, "absent")
		check("get absent", err)
		_, err = b.R2().CreateBucket(ctx, storage.BucketSpec{Name: "denied"})
		check("denied", err)
		f.api.FailNext(10, 503, "")
		_, err = b.KV().ListNamespaces(ctx, storage.ListOptions{})
		check("unavailable", err)
		f.api.ClearFaults()
		_, err = b.R2().ListObjects(ctx, "no-such-bucket", storage.ObjectListOptions{})
		check("no bucket", err)
		u, err := b.R2().Presign(ctx, storage.PresignRequest{Bucket: "abc", Key: "k", Method: "GET", Expires: time.Minute})
		check("presign", err)
		check("presigned URL", u.URL)
		d, err := b.Describe(ctx)
		check("describe", d)
		check("describe error", err)
		_, err = b.KV().List(ctx, ns.ID, storage.ListOptions{Cursor: "bad-cursor"})
		check("bad cursor", err)
	}
	bad, _ := New(Config{APIToken: "wrong-" + token, BaseURL: f.api.BaseURL(), Logger: logger})
	_, err := bad.KV().ListNamespaces(t.Context(), storage.ListOptions{})
	check("bad token", err)
	for _, r := range f.api.Requests() {
		check("request", r)
	}

	all := strings.Join(shown, "\n") + logs.String()
	for name, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the %s appears in what the backend showed", name)
		}
	}
	// The checks saw something: the errors did happen.
	for _, want := range []string{"Workers R2 Storage:Edit", "not found", "unavailable", "does not accept the API token", "[redacted]"} {
		if !strings.Contains(all, want) {
			t.Errorf("nothing shown mentions %q: the test did not reach that failure", want)
		}
	}
	if !bytes.Contains([]byte(logs.String()), []byte("cloudflare: request")) {
		t.Error("no request was logged at debug level")
	}
}

func TestErrorMapping(t *testing.T) {
	ctx := context.Background()
	e := func(status int, codes ...int) *apiError {
		a := &apiError{Method: "GET", Path: "/x", Status: status}
		for _, c := range codes {
			a.Messages = append(a.Messages, apiMessage{Code: c, Message: fmt.Sprintf("message %d", c)})
		}
		return a
	}
	kvKey := call{op: "reading key", area: areaKV, namespace: "ns1", key: "k1"}
	kvWrite := call{op: "writing key", area: areaKV, write: true, namespace: "ns1", key: "k1"}
	bucket := call{op: "creating bucket", area: areaR2, write: true, bucket: "b1"}
	account := call{op: "finding the account", area: areaAccount}
	cases := []struct {
		c        call
		err      error
		code     storage.Code
		contains []string
	}{
		{kvKey, e(404, 10009), storage.CodeNotFound, []string{`key "k1"`, "ns1"}},
		{kvKey, e(404, 10013), storage.CodeNotFound, []string{`namespace "ns1"`, "list_kv_namespaces"}},
		{call{area: areaKV, title: "T"}, e(400, 10014), storage.CodeAlreadyExists, []string{`"T"`}},
		{kvKey, e(400, 10011), storage.CodeInvalidArgument, []string{"message 10011", "code 10011"}},
		{kvKey, e(429, 10022), storage.CodeRateLimited, nil},
		{kvWrite, e(413, 10024), storage.CodeTooLarge, nil},
		{kvWrite, e(403, 10000), storage.CodePermissionDenied, []string{"Workers KV Storage:Edit"}},
		{kvKey, e(403, 10000), storage.CodePermissionDenied, []string{"Workers KV Storage:Read"}},
		{kvKey, e(403, 9109), storage.CodePermissionDenied, []string{"does not accept the API token"}},
		{kvKey, e(401), storage.CodePermissionDenied, []string{"Workers KV Storage:Read"}},
		// 10008 and 10009 are KV codes too, with other meanings.
		{bucket, e(409, 10008), storage.CodeConflict, []string{`bucket "b1" is not empty`}},
		{kvKey, e(400, 10008), storage.CodeInvalidArgument, nil},
		{bucket, e(400, 10009), storage.CodeInvalidArgument, nil},
		{bucket, e(409, 10004), storage.CodeAlreadyExists, []string{`bucket "b1" already exists`}},
		{bucket, e(409, 10073), storage.CodeAlreadyExists, []string{"taken"}},
		{bucket, e(404, 10006), storage.CodeNotFound, []string{"no such R2 bucket"}},
		{bucket, e(403, 10000), storage.CodePermissionDenied, []string{"Workers R2 Storage:Edit"}},
		{account, e(403, 10000), storage.CodePermissionDenied, []string{"Account Settings:Read"}},
		{account, e(400, 1001), storage.CodePermissionDenied, []string{"CLOUDFLARE_ACCOUNT_ID"}},
		{kvKey, e(500), storage.CodeUnavailable, []string{"HTTP 500"}},
		{kvKey, e(503, 10001), storage.CodeUnavailable, []string{"try again later"}},
		{kvKey, &apiError{Status: 429, RetryAfter: 30 * time.Second}, storage.CodeRateLimited, []string{"30s"}},
		{kvKey, e(418), storage.CodeInvalidArgument, nil},
		{kvKey, errors.New("dial tcp: connection refused"), storage.CodeUnavailable, []string{"cannot reach"}},
	}
	for _, c := range cases {
		err := c.c.fail(ctx, c.err)
		wantCode(t, err, c.code, c.contains...)
		var ae *apiError
		if _, isAPI := c.err.(*apiError); isAPI && !errors.As(err, &ae) {
			t.Errorf("%v: the API error is not kept as the cause", err)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := kvKey.fail(cancelled, e(500)); !errors.Is(err, context.Canceled) {
		t.Errorf("a failure of a cancelled call = %v, want the cancellation", err)
	}
}
