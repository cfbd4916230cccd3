// Package cf is the Cloudflare backend: Workers KV, R2 buckets and D1 over
// Cloudflare's REST API (cloudflare-go v7, service packages only), R2
// objects over R2's S3 API (aws-sdk-go-v2), behind the storage interfaces
// that the local backend implements too.
package cf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Config is what the Cloudflare backend is started with. Only APIToken is
// required.
type Config struct {
	APIToken string // CLOUDFLARE_API_TOKEN
	// AccountID (CLOUDFLARE_ACCOUNT_ID) may be empty when the token sees
	// exactly one account.
	AccountID string
	// R2AccessKeyID and R2SecretAccessKey (R2_ACCESS_KEY_ID,
	// R2_SECRET_ACCESS_KEY) are R2's S3 credentials; when both are empty
	// they are derived from the API token.
	R2AccessKeyID     string
	R2SecretAccessKey string
	// BaseURL (CLOUDFLARE_BASE_URL) is the REST API; DefaultBaseURL when
	// empty. R2Endpoint (R2_ENDPOINT) is the S3 API; by default the
	// account's endpoint in Jurisdiction.
	BaseURL    string
	R2Endpoint string
	// Jurisdiction is where the backend's buckets live: "" or "default",
	// "eu", "fedramp".
	Jurisdiction string
	// HTTPClient makes every request (its Transport is wrapped, not
	// changed); nil means clients of the backend's own.
	HTTPClient *http.Client
	Logger     *slog.Logger // nil: no logs
	// Timeout bounds the wait for each REST call's answer, retries
	// included (default 60 s; a large request body adds time at 1 MiB/s),
	// and then each pause while its body is read, not the reading: a large
	// KV value on a slow link takes as long as it takes, as long as it keeps
	// coming. S3 object bodies being downloaded have the same bound on each
	// pause; S3 uploads are bounded by their context only: an upload takes
	// as long as it takes.
	Timeout time.Duration

	// Tuning, mostly for tests.
	Retry              RetryPolicy
	PartSize           int64 // S3 multipart part size (default 16 MiB)
	Concurrency        int   // parts uploaded at once (default 4)
	MultipartThreshold int64 // objects above this go in parts (default 64 MiB)
	Now                func() time.Time
}

// String, GoString and LogValue keep the secrets out of anything that
// prints a Config.
func (c Config) String() string {
	return fmt.Sprintf("cf.Config{AccountID:%q BaseURL:%q R2Endpoint:%q Jurisdiction:%q R2AccessKeyID:%q APIToken:%s R2SecretAccessKey:%s}",
		c.AccountID, redactURL(c.BaseURL), redactURL(c.R2Endpoint), c.Jurisdiction, c.R2AccessKeyID, redacted(c.APIToken), redacted(c.R2SecretAccessKey))
}

func (c Config) GoString() string { return c.String() }

func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("account_id", c.AccountID),
		slog.String("base_url", redactURL(c.BaseURL)),
		slog.String("r2_endpoint", redactURL(c.R2Endpoint)),
		slog.String("jurisdiction", c.Jurisdiction),
		slog.String("r2_access_key_id", c.R2AccessKeyID),
		slog.String("api_token", redacted(c.APIToken)),
		slog.String("r2_secret_access_key", redacted(c.R2SecretAccessKey)),
	)
}

func redacted(s string) string {
	if s == "" {
		return "(none)"
	}
	return "[redacted]"
}

// redactURL hides a password in a URL (a proxy's, say).
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "[unparsable URL]"
	}
	return u.Redacted()
}

// Backend is the Cloudflare backend. Make it with New.
type Backend struct {
	cfg  Config
	log  *slog.Logger
	now  func() time.Time
	http *http.Client // of the REST calls, retrying
	rest *restClient
	kv   *kvStore
	r2   *r2Store
	d1   *d1Store
	// closeIdle closes the idle connections of the REST client's own
	// transport; nil when the transport is the caller's.
	closeIdle func()
	// newObjects makes the S3 half; tests replace it.
	newObjects func(objectConfig) (r2ObjectOps, error)

	// gate admits one caller at a time to the lazy start (credentials.go)
	// and guards what it learns. A channel, so that waiting ends with the
	// caller's context.
	gate      chan struct{}
	accountID string
	objs      r2ObjectOps
	closed    bool
}

var _ storage.Backend = (*Backend)(nil)

// New checks cfg and returns a backend. It does no network I/O: the account
// and the S3 credentials are looked up by the first call that needs them.
func New(cfg Config) (*Backend, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	cfg.BaseURL = cmp.Or(cfg.BaseURL, DefaultBaseURL)
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	b := &Backend{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		gate:       make(chan struct{}, 1),
		accountID:  cfg.AccountID,
		newObjects: func(c objectConfig) (r2ObjectOps, error) { return newObjectStore(c) },
	}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.now == nil {
		b.now = time.Now
	}
	base := cfg.HTTPClient
	if base == nil || base.Transport == nil {
		// A transport of our own, not http.DefaultTransport, so that
		// Close can drop its connections without touching anyone else's.
		own := http.DefaultTransport.(*http.Transport).Clone()
		var c http.Client
		if base != nil {
			c = *base
		}
		c.Transport = own
		base, b.closeIdle = &c, own.CloseIdleConnections
	}
	b.http = newHTTPClient(base, cfg.Retry, b.log, b.now)
	b.rest = newRESTClient(cfg.APIToken, cfg.BaseURL, b.http, cfg.Timeout, b.log, b.now)
	b.kv = &kvStore{b: b}
	b.r2 = &r2Store{bucketStore{b: b}}
	b.d1 = &d1Store{b: b}
	return b, nil
}

// check reports the first mistake in cfg, naming the environment variable
// and never echoing a secret.
func (c Config) check() error {
	if c.APIToken == "" {
		return errors.New("cf: CLOUDFLARE_API_TOKEN is not set")
	}
	for _, r := range c.APIToken {
		if r <= ' ' || r >= 0x7f {
			return errors.New("cf: CLOUDFLARE_API_TOKEN holds a character an API token cannot have (a space or line break, perhaps, from copying it)")
		}
	}
	if c.AccountID != "" && strings.IndexFunc(c.AccountID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return errors.New("cf: CLOUDFLARE_ACCOUNT_ID must be an account id: 32 hexadecimal digits, as shown in the Cloudflare dashboard")
	}
	if (c.R2AccessKeyID == "") != (c.R2SecretAccessKey == "") {
		return errors.New("cf: set both R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY, or neither (to derive them from CLOUDFLARE_API_TOKEN)")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("cf: CLOUDFLARE_BASE_URL must be an http(s) URL such as " + DefaultBaseURL)
		}
	}
	if c.R2Endpoint != "" {
		// As s3.go will: an endpoint needs no account id.
		if _, err := s3Endpoint("0", c.Jurisdiction, c.R2Endpoint); err != nil {
			return err
		}
	}
	switch c.Jurisdiction {
	case "", "default", "eu", "fedramp":
	default:
		return fmt.Errorf("cf: R2 jurisdiction %q is not one of default, eu, fedramp", c.Jurisdiction)
	}
	return nil
}

// Name reports "cloudflare".
func (b *Backend) Name() string { return "cloudflare" }

// KV returns Workers KV.
func (b *Backend) KV() storage.KV { return b.kv }

// R2 returns R2: buckets and objects.
func (b *Backend) R2() storage.R2 { return b.r2 }

// D1 returns D1: databases and queries.
func (b *Backend) D1() storage.D1 { return b.d1 }

// probeTimeout bounds the one request Describe makes: whoami answers
// promptly, network or not.
const probeTimeout = 3 * time.Second

// Describe reports the account as configured (or as found by an earlier
// call), and probes the API, asking for the token's status (and, when it
// answers and the account is not known, for the token's account): whether
// it answered, and if not why, is part of the answer rather than an error.
// Never the token.
func (b *Backend) Describe(ctx context.Context) (storage.Description, error) {
	d := storage.Description{Backend: b.Name(), AccountID: b.knownAccount()}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	tok, err := b.verifyToken(ctx, d.AccountID)
	var answer *apiError
	reachable := err == nil || errors.As(err, &answer)
	d.APIReachable = &reachable
	if err != nil {
		d.APIError = storage.Describe(err)
		return d, nil
	}
	d.TokenStatus = tok.Status
	if d.AccountID == "" && tok.Status == "active" {
		// The API answers: find the account as the first call would.
		if d.AccountID, err = b.account(ctx); err != nil {
			d.APIError = storage.Describe(err)
		}
	}
	return d, nil
}

// knownAccount is CLOUDFLARE_ACCOUNT_ID, or the account an earlier call
// found; "" while a lazy start holds the gate, rather than wait for it.
func (b *Backend) knownAccount() string {
	select {
	case b.gate <- struct{}{}:
		defer b.unlock()
		return b.accountID
	default:
		return b.cfg.AccountID
	}
}

// Close drops idle connections. Calls made after it fail with code
// unavailable; calls in flight finish.
func (b *Backend) Close() error {
	b.gate <- struct{}{}
	defer b.unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.closeIdle != nil {
		b.closeIdle()
	}
	return nil
}
