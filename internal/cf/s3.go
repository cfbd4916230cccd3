package cf

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/stall"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// R2's multipart rules (developers.cloudflare.com/r2/platform/limits) and the
// defaults of this backend.
const (
	minPartSize = 5 << 20 // every part but the last
	maxPartSize = 5 << 30
	maxParts    = 10_000

	// A part is what a plain reader is buffered in, Concurrency at a time,
	// so 4 x 8 MiB bounds such an upload's memory at 32 MiB; a file is read
	// in sections and buffers nothing. 10,000 parts of 8 MiB make 78 GiB;
	// parts grow for larger objects.
	defaultPartSize           = 8 << 20
	defaultConcurrency        = 4
	defaultMultipartThreshold = 64 << 20

	// CopyObject copies up to 5 GiB; larger objects are copied part by part,
	// server-side, in parts this large (fewer requests; nothing is buffered).
	maxSingleCopy       = 5 << 30
	defaultCopyPartSize = 256 << 20

	// Retries: five attempts, backing off up to 20 s, or what Retry-After
	// asks for up to a minute.
	retryMaxAttempts = 5
	retryMaxBackoff  = 20 * time.Second
	maxRetryAfter    = time.Minute

	// abortTimeout bounds the clean-up of a failed multipart upload, which
	// runs after the request's own context is done.
	abortTimeout = 30 * time.Second

	// responseHeaderTimeout bounds the wait for an answer once a request has
	// been sent, on the default HTTP client; bodies may take as long as
	// they take.
	responseHeaderTimeout = 2 * time.Minute
)

// objectConfig configures the S3 side of the Cloudflare backend.
type objectConfig struct {
	// AccountID names the default endpoint; Jurisdiction ("", "default",
	// "eu", "fedramp") picks its variant. Endpoint (R2_ENDPOINT) overrides
	// both.
	AccountID, Endpoint, Jurisdiction string
	// R2's S3 credentials. The secret is never logged nor put in an error.
	AccessKeyID     string
	SecretAccessKey string
	// HTTPClient is used for every request; nil means one with the SDK's
	// transport settings and a response header timeout.
	HTTPClient *http.Client
	// PartSize (>= 5 MiB, default 8 MiB) is the preferred part size of a
	// multipart upload; it grows for objects that would need more than
	// 10,000 parts. Concurrency (default 4) is how many parts are sent at
	// once. Objects larger than MultipartThreshold (default 64 MiB) are
	// uploaded in parts.
	PartSize           int64
	Concurrency        int
	MultipartThreshold int64
	// Stall (default 60 s; the backend passes its REST timeout) is the
	// longest an object body being read may pause: a download that stops
	// arriving for longer fails as unavailable, a slow but steady one takes
	// as long as it takes.
	Stall time.Duration
	// Now is the clock for presigned URL expiry and upload times (default
	// time.Now); Log receives debug events and clean-up failures.
	Now func() time.Time
	Log *slog.Logger
}

// r2ObjectOps is the object half of storage.R2, served by R2's S3 API; the
// bucket half comes from the REST API.
type r2ObjectOps interface {
	ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error)
	HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error)
	GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error)
	PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error)
	CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error)
	DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error)
	Presign(ctx context.Context, req storage.PresignRequest) (storage.PresignedURL, error)
}

var _ r2ObjectOps = (*objectStore)(nil)

// objectStore is R2 object data over the S3 API. It is safe for concurrent
// use.
type objectStore struct {
	client  *s3.Client
	presign *s3.PresignClient

	partSize    int64
	concurrency int
	threshold   int64
	// copyThreshold and copyPartSize are S3's copy limit and our part size;
	// tests lower them to reach multipart copy without 5 GiB objects.
	copyThreshold int64
	copyPartSize  int64
	stall         time.Duration
	// signPayload is true over plain HTTP, where SigV4 signs each upload's
	// SHA-256 (see digest).
	signPayload bool

	// buffers holds *[]byte of partSize bytes: part buffers of plain
	// readers, reused across uploads (and let go by the GC when idle).
	buffers sync.Pool

	now func() time.Time
	log *slog.Logger
}

// newObjectStore checks cfg and builds the S3 client. It does no network I/O:
// the first request is the first call's.
func newObjectStore(cfg objectConfig) (*objectStore, error) {
	endpoint, err := s3Endpoint(cfg.AccountID, cfg.Jurisdiction, cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("cf: R2 S3 credentials need both an access key id and a secret access key")
	}
	s := &objectStore{
		partSize:      cmp.Or(cfg.PartSize, defaultPartSize),
		concurrency:   cmp.Or(cfg.Concurrency, defaultConcurrency),
		threshold:     cmp.Or(cfg.MultipartThreshold, defaultMultipartThreshold),
		copyThreshold: maxSingleCopy,
		copyPartSize:  defaultCopyPartSize,
		stall:         cmp.Or(cfg.Stall, defaultTimeout),
		now:           cfg.Now,
		log:           cfg.Log,
	}
	switch {
	case s.partSize < minPartSize || s.partSize > maxPartSize:
		return nil, fmt.Errorf("cf: R2 part size %d must be between %d (5 MiB) and %d (5 GiB)", s.partSize, minPartSize, maxPartSize)
	case s.concurrency < 1:
		return nil, fmt.Errorf("cf: R2 upload concurrency %d must be at least 1", s.concurrency)
	case s.threshold < 0:
		return nil, fmt.Errorf("cf: R2 multipart threshold %d must not be negative", s.threshold)
	case s.stall < 0:
		return nil, fmt.Errorf("cf: R2 stall time %s must not be negative", s.stall)
	}
	if u, err := url.Parse(endpoint); err == nil && u.Scheme == "http" {
		s.signPayload = true
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}

	var httpClient s3.HTTPClient = cfg.HTTPClient
	if cfg.HTTPClient == nil {
		httpClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = responseHeaderTimeout
		})
	}
	// s3.New rather than config.LoadDefaultConfig: nothing of AWS_* in the
	// environment or ~/.aws may change how R2 is reached.
	s.client = s3.New(s3.Options{
		AppID:        "mcp-cfstorage",
		Region:       "auto",
		BaseEndpoint: aws.String(endpoint),
		// Path-style works with any endpoint, an IP or a local S3 server
		// included; R2 serves both styles.
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		// R2 rejects the aws-chunked CRC32 trailers that the SDK sends by
		// default since 2025: checksums only where the API demands one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 readOnlyBodyClient{httpClient},
		Retryer:                    newS3Retryer(retryMaxBackoff),
		APIOptions:                 []func(*middleware.Stack) error{s.logFailures},
	})
	s.presign = s3.NewPresignClient(s.client)
	return s, nil
}

// s3Endpoint is the S3 endpoint of an account: R2_ENDPOINT when set, else
// the account's host for its jurisdiction.
func s3Endpoint(accountID, jurisdiction, override string) (string, error) {
	if override != "" {
		u, err := url.Parse(override)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL may carry a proxy's password: say what is wrong, not
			// what it is.
			return "", errors.New("cf: R2_ENDPOINT must be an http(s) URL such as https://<account>.r2.cloudflarestorage.com")
		}
		return strings.TrimSuffix(override, "/"), nil
	}
	if accountID == "" || strings.IndexFunc(accountID, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) >= 0 {
		return "", fmt.Errorf("cf: account id %q cannot name an R2 endpoint: it must be letters and digits", accountID)
	}
	switch jurisdiction {
	case "", "default":
		return "https://" + accountID + ".r2.cloudflarestorage.com", nil
	case "eu", "fedramp":
		return "https://" + accountID + "." + jurisdiction + ".r2.cloudflarestorage.com", nil
	}
	return "", fmt.Errorf("cf: R2 jurisdiction %q is not one of default, eu, fedramp", jurisdiction)
}

// readOnlyBodyClient hides every method of a request body but Read and
// Close from net/http. smithy-go closes the body as soon as the response
// arrives, and its closed body's WriteTo answers io.EOF as an error: when
// that lands in the transport's final check that the body is at its end,
// the transport fails the write and closes the connection under the
// response being read ("use of closed network connection"). A closed body's
// Read answers a plain EOF, which the check accepts. Seen with fast servers,
// for DeleteObjects, whose serialized body has WriteTo.
type readOnlyBodyClient struct{ next s3.HTTPClient }

func (c readOnlyBodyClient) Do(req *http.Request) (*http.Response, error) {
	// Bodies of a known length only: a wrapped http.NoBody would turn an
	// empty request into a chunked one.
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength > 0 {
		req.Body = struct{ io.ReadCloser }{req.Body}
	}
	return c.next.Do(req)
}

// logFailures adds to a call's middleware, outside its retries, the log
// record of a call that failed with an answer (logFailure): one per call,
// with the last answer's status and request ids.
func (s *objectStore) logFailures(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("LogFailures",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, meta, err := next.HandleInitialize(ctx, in)
			var re *smithyhttp.ResponseError
			if err != nil && errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
				res := re.Response.Response
				var method, path string
				if res.Request != nil { // set by net/http
					method, path = res.Request.Method, res.Request.URL.EscapedPath()
				}
				logFailure(ctx, s.log, method, path, res.StatusCode, res.Header)
			}
			return out, meta, err
		}), middleware.Before)
}

// newS3Retryer is the SDK's standard retryer (throttling codes, 429, 5xx and
// connection errors, with jittered exponential backoff up to maxBackoff)
// with a bounded number of attempts, no client-side retry quota (its "retry
// quota exceeded" would replace the error that matters), and Retry-After
// honoured.
func newS3Retryer(maxBackoff time.Duration) aws.RetryerV2 {
	return retryAfterRetryer{retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = retryMaxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.RetryableHTTPStatusCode{
			Codes: map[int]struct{}{http.StatusTooManyRequests: {}},
		}, retry.RetryableErrorCode{
			// Bytes that reached R2 other than their Content-MD5: damaged on
			// the way, and sent again (a body is rewound for a retry).
			Codes: map[string]struct{}{"BadDigest": {}},
		})
	}), time.Now}
}

// retryAfterRetryer waits at least as long as a response's Retry-After
// header asks, capped at maxRetryAfter.
type retryAfterRetryer struct {
	aws.RetryerV2
	now func() time.Time
}

func (r retryAfterRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr != nil {
		return d, derr
	}
	if after, ok := retryAfter(err, r.now()); ok {
		d = max(d, min(after, maxRetryAfter))
	}
	return d, nil
}

// retryAfter reads the Retry-After header of a failed response (see
// retryAfterHeader).
func retryAfter(err error, now time.Time) (time.Duration, bool) {
	var re *smithyhttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil || re.Response.Response == nil {
		return 0, false
	}
	return retryAfterHeader(re.Response.Header, now)
}

// ---- reading ----

// ListObjects lists a page with ListObjectsV2. S3 listings carry no content
// types, so HTTP metadata is left empty here; HeadObject has it.
func (s *objectStore) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = storage.DefaultObjectList
	}
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(bucket),
		MaxKeys: aws.Int32(int32(min(limit, storage.MaxObjectList))),
	}
	if opts.Prefix != "" {
		in.Prefix = aws.String(opts.Prefix)
	}
	if opts.Delimiter != "" {
		in.Delimiter = aws.String(opts.Delimiter)
	}
	if opts.Cursor != "" {
		in.ContinuationToken = aws.String(opts.Cursor)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		// XML cannot carry some control characters that keys may hold;
		// S3's answer is URL-encoded names, asked for only when needed so
		// that the usual listing stays the plain one.
		in.EncodingType = types.EncodingTypeUrl
		out, err = s.client.ListObjectsV2(ctx, in)
	}
	if err != nil {
		return storage.ObjectPage{}, s3Err("listing objects", bucket, "", err)
	}
	name := func(s *string) (string, error) { return aws.ToString(s), nil }
	if out.EncodingType == types.EncodingTypeUrl {
		name = func(s *string) (string, error) { return url.QueryUnescape(aws.ToString(s)) }
	}
	page := storage.ObjectPage{
		Objects:  make([]storage.ObjectInfo, 0, len(out.Contents)),
		Prefixes: make([]string, 0, len(out.CommonPrefixes)),
	}
	for _, o := range out.Contents {
		key, err := name(o.Key)
		if err != nil {
			return storage.ObjectPage{}, storage.Errorf(storage.CodeInternal, "listing objects in bucket %q: undecodable key %q: %w", bucket, aws.ToString(o.Key), err)
		}
		page.Objects = append(page.Objects, storage.ObjectInfo{
			Key:      key,
			Size:     aws.ToInt64(o.Size),
			ETag:     unquoteETag(aws.ToString(o.ETag)),
			Uploaded: aws.ToTime(o.LastModified).UTC(),
		})
	}
	for _, p := range out.CommonPrefixes {
		prefix, err := name(p.Prefix)
		if err != nil {
			return storage.ObjectPage{}, storage.Errorf(storage.CodeInternal, "listing objects in bucket %q: undecodable prefix %q: %w", bucket, aws.ToString(p.Prefix), err)
		}
		page.Prefixes = append(page.Prefixes, prefix)
	}
	if aws.ToBool(out.IsTruncated) {
		page.Cursor = aws.ToString(out.NextContinuationToken)
		if page.Cursor == "" || page.Cursor == opts.Cursor {
			// Passing it on would page forever.
			return storage.ObjectPage{}, storage.Errorf(storage.CodeInternal,
				"listing objects in bucket %q: the S3 API reported more results without a new continuation token", bucket)
		}
	}
	return page, nil
}

func (s *objectStore) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return storage.ObjectInfo{}, s.headErr(ctx, bucket, key, err)
	}
	return storage.ObjectInfo{
		Key:      key,
		Size:     aws.ToInt64(out.ContentLength),
		ETag:     unquoteETag(aws.ToString(out.ETag)),
		Uploaded: aws.ToTime(out.LastModified).UTC(),
		HTTP: storage.HTTPMetadata{
			ContentType:        aws.ToString(out.ContentType),
			ContentLanguage:    aws.ToString(out.ContentLanguage),
			ContentDisposition: aws.ToString(out.ContentDisposition),
			ContentEncoding:    aws.ToString(out.ContentEncoding),
			CacheControl:       aws.ToString(out.CacheControl),
		},
		CustomMetadata: customMetadata(out.Metadata),
	}, nil
}

// headErr maps a failed HeadObject. A HEAD response has no body, so its 404
// cannot say whether the bucket or the key is missing: a HeadBucket, on this
// error path only, tells which.
func (s *objectStore) headErr(ctx context.Context, bucket, key string, err error) error {
	mapped := s3Err("reading object", bucket, key, err)
	if !errors.Is(mapped, storage.ErrNotFound) {
		return mapped
	}
	_, berr := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if berr != nil && errors.Is(s3Err("reading bucket", bucket, "", berr), storage.ErrNotFound) {
		return s3NoBucket(bucket)
	}
	return mapped
}

// GetObject streams an object or a range of it. A range that starts past the
// end is the caller's mistake: invalid_argument naming range_start. The body
// may take as long as it takes to read, but not pause for longer than the
// stall time (stall.Body): the call has a context of its own, which a stall
// cancels and Close releases.
func (s *objectStore) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	if err := storage.ValidateRange(rng); err != nil {
		return nil, err
	}
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if rng != nil {
		in.Range = aws.String(httpRange(rng))
	}
	callCtx, cancel := context.WithCancelCause(ctx)
	out, err := s.client.GetObject(callCtx, in)
	if err != nil {
		cancel(nil)
		if rng != nil && isUnsatisfiableRange(err) {
			return nil, rangeErr(bucket, key, rng, err)
		}
		return nil, s3Err("reading object", bucket, key, err)
	}
	length := aws.ToInt64(out.ContentLength)
	size := length
	if out.ContentRange != nil {
		total, ok := contentRangeSize(*out.ContentRange)
		if !ok {
			out.Body.Close()
			cancel(nil)
			return nil, storage.Errorf(storage.CodeInternal, "reading object %q in bucket %q: unexpected Content-Range %q", key, bucket, *out.ContentRange)
		}
		size = total
	}
	return &storage.Object{
		Info: storage.ObjectInfo{
			Key:      key,
			Size:     size,
			ETag:     unquoteETag(aws.ToString(out.ETag)),
			Uploaded: aws.ToTime(out.LastModified).UTC(),
			HTTP: storage.HTTPMetadata{
				ContentType:        aws.ToString(out.ContentType),
				ContentLanguage:    aws.ToString(out.ContentLanguage),
				ContentDisposition: aws.ToString(out.ContentDisposition),
				ContentEncoding:    aws.ToString(out.ContentEncoding),
				CacheControl:       aws.ToString(out.CacheControl),
			},
			CustomMetadata: customMetadata(out.Metadata),
		},
		Length: length,
		Body: stall.NewBody(&ctxBody{ctx: ctx, rc: out.Body}, callCtx, cancel, s.stall,
			fmt.Sprintf("r2: reading object %q in bucket %q", key, bucket)),
	}, nil
}

// httpRange renders an inclusive range as an HTTP Range header.
func httpRange(r *storage.ByteRange) string {
	if r.End < 0 {
		return fmt.Sprintf("bytes=%d-", r.Start)
	}
	return fmt.Sprintf("bytes=%d-%d", r.Start, r.End)
}

func isUnsatisfiableRange(err error) bool {
	var ae smithy.APIError
	return httpStatus(err) == http.StatusRequestedRangeNotSatisfiable || errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange"
}

// rangeErr reports a range past the end, with the object's size when the
// 416 response says it (Content-Range: bytes */size).
func rangeErr(bucket, key string, rng *storage.ByteRange, err error) error {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil && re.Response.Response != nil {
		if size, ok := contentRangeSize(re.Response.Header.Get("Content-Range")); ok {
			return s3Error(storage.CodeInvalidArgument, err,
				"range_start: %d is beyond the end of object %q in bucket %q (%d bytes)", rng.Start, key, bucket, size)
		}
	}
	return s3Error(storage.CodeInvalidArgument, err,
		"range_start: %d is beyond the end of object %q in bucket %q", rng.Start, key, bucket)
}

// contentRangeSize reads the complete length of a Content-Range header,
// "bytes 0-9/100" or "bytes */100".
func contentRangeSize(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok || !strings.HasPrefix(v, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// ctxBody is a response body that belongs to its request: once ctx is done,
// reads fail with its error, whatever the connection has buffered.
type ctxBody struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("r2: reading object data: %w", err)
	}
	return b.rc.Read(p)
}

func (b *ctxBody) Close() error { return b.rc.Close() }

// customMetadata is the x-amz-meta-* headers of a response, keys in lower
// case as the SDK gives them; nil when there are none.
func customMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// optional is s as an optional header of an SDK input: nil when empty.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// unquoteETag strips the quotes that S3 puts around ETags.
func unquoteETag(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(etag, `"`), `"`)
}

// responseTime is when the server answered a call (its Date header), which
// is when an object it stored was uploaded; the local clock otherwise.
func (s *objectStore) responseTime(meta middleware.Metadata) time.Time {
	if raw, ok := awsmiddleware.GetRawResponse(meta).(*smithyhttp.Response); ok && raw != nil && raw.Response != nil {
		if t, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			return t.UTC()
		}
	}
	return s.now().UTC().Truncate(time.Second)
}

// ---- copying and deleting ----

// CopyObject copies server-side with its metadata: in one CopyObject up to
// 5 GiB, by multipart copy above. The source is read once first, to name a
// missing source as such, to know its size, and to pin its version: every
// copy request carries its ETag as x-amz-copy-source-if-match.
func (s *objectStore) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	info, err := s.HeadObject(ctx, src.Bucket, src.Key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if info.Size > s.copyThreshold {
		return s.copyMultipart(ctx, src, dst, info)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(dst.Bucket),
		Key:               aws.String(dst.Key),
		CopySource:        aws.String(s3CopySource(src)),
		CopySourceIfMatch: aws.String(`"` + info.ETag + `"`),
		MetadataDirective: types.MetadataDirectiveCopy,
	}
	if src == dst {
		// S3 refuses to copy an object onto itself unchanged; rewriting its
		// own metadata is allowed, and has the same effect.
		h := info.HTTP
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.ContentType, in.ContentLanguage = optional(h.ContentType), optional(h.ContentLanguage)
		in.ContentDisposition, in.ContentEncoding = optional(h.ContentDisposition), optional(h.ContentEncoding)
		in.CacheControl = optional(h.CacheControl)
		in.Metadata = info.CustomMetadata
	}
	out, err := s.client.CopyObject(ctx, in)
	if err != nil {
		return storage.ObjectInfo{}, copyErr(src, dst, err)
	}
	info.Key = dst.Key
	if r := out.CopyObjectResult; r != nil {
		if r.ETag != nil {
			info.ETag = unquoteETag(*r.ETag)
		}
		info.Uploaded = aws.ToTime(r.LastModified).UTC()
	}
	if info.Uploaded.IsZero() {
		info.Uploaded = s.responseTime(out.ResultMetadata)
	}
	return info, nil
}

// s3CopySource is the x-amz-copy-source of an object: its bucket and its
// key, each path segment of the key escaped (so that ?, #, %, spaces and
// non-ASCII survive), and + escaped too, which some servers decode as a
// space.
func s3CopySource(ref storage.ObjectRef) string {
	segs := strings.Split(ref.Key, "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.PathEscape(seg), "+", "%2B")
	}
	return ref.Bucket + "/" + strings.Join(segs, "/")
}

// copyErr maps an error of a copy: a missing key is the source's (the
// destination need not exist), anything else concerns the destination.
func copyErr(src, dst storage.ObjectRef, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey" {
		return s3NoObject(src.Bucket, src.Key)
	}
	if httpStatus(err) == http.StatusPreconditionFailed {
		return s3Error(storage.CodeConflict, err,
			"source_key: object %q in bucket %q changed while it was being copied: try again", src.Key, src.Bucket)
	}
	return s3Err("copying to", dst.Bucket, dst.Key, err)
}

// DeleteObjects deletes in batches of 1,000 keys, S3's limit per request.
// Absent keys are reported deleted, as S3 does. If a batch fails, what the
// earlier batches deleted is returned with the error.
func (s *objectStore) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	res := storage.DeleteResult{Deleted: make([]string, 0, len(keys)), Errors: []storage.DeleteError{}}
	for batch := range slices.Chunk(keys, storage.MaxDeleteObjects) {
		objs := make([]types.ObjectIdentifier, len(batch))
		for i, k := range batch {
			objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(false)},
		})
		if err != nil {
			return res, s3Err("deleting objects", bucket, "", err)
		}
		for _, d := range out.Deleted {
			res.Deleted = append(res.Deleted, aws.ToString(d.Key))
		}
		for _, e := range out.Errors {
			res.Errors = append(res.Errors, storage.DeleteError{
				Key:     aws.ToString(e.Key),
				Message: strings.TrimPrefix(aws.ToString(e.Code)+": "+aws.ToString(e.Message), ": "),
			})
		}
	}
	return res, nil
}

// ---- presigning ----

// Presign signs a GET or PUT URL locally (no request is made). The expiry
// is capped at R2's 7 days here, whatever the caller asks: the SDK would sign
// a longer one, which R2 then refuses.
func (s *objectStore) Presign(ctx context.Context, req storage.PresignRequest) (storage.PresignedURL, error) {
	expires := min(req.Expires, storage.MaxPresignExpiry).Truncate(time.Second)
	if expires <= 0 {
		expires = storage.DefaultPresignExpiry
	}
	now := s.now()
	opt := s3.WithPresignExpires(expires)
	var (
		p   *v4.PresignedHTTPRequest
		err error
	)
	switch req.Method {
	case http.MethodGet:
		p, err = s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)}, opt)
	case http.MethodPut:
		p, err = s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(req.Bucket), Key: aws.String(req.Key)}, opt)
	default:
		return storage.PresignedURL{}, storage.Errorf(storage.CodeInvalidArgument, "method: %q must be GET or PUT", req.Method)
	}
	if err != nil {
		return storage.PresignedURL{}, s3Err("presigning", req.Bucket, req.Key, err)
	}
	// The URL is valid from its signing time, in whole seconds.
	return storage.PresignedURL{URL: p.URL, ExpiresAt: now.Add(expires).Truncate(time.Second).UTC()}, nil
}

// ---- errors ----

func s3NoBucket(bucket string) error {
	// The same words as storage.Guard's and the local backend's.
	return storage.Errorf(storage.CodeNotFound, "bucket %q: no such R2 bucket (call list_r2_buckets to see them)", bucket)
}

func s3NoObject(bucket, key string) error {
	return storage.Errorf(storage.CodeNotFound, "object %q: not found in bucket %q", key, bucket)
}

// s3Error is a storage error with a message of ours and the S3 error as its
// cause, reachable with errors.As but not shown: SDK errors are long.
func s3Error(code storage.Code, cause error, format string, args ...any) error {
	return &storage.Error{Code: code, Message: fmt.Sprintf(format, args...), Err: cause}
}

// s3Err maps an error of an S3 call to the storage error that a tool
// reports: the one place where S3's error codes meet ours. op says what was
// being done ("reading object"); bucket and key, what to (key may be empty).
// Messages name the bucket and key, never a credential.
func s3Err(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	var se *storage.Error
	if errors.As(err, &se) {
		return se // ours, raised inside the call (a short body, say)
	}
	what := fmt.Sprintf("bucket %q", bucket)
	if key != "" {
		what = fmt.Sprintf("object %q in bucket %q", key, bucket)
	}
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, cause) {
			return storage.Errorf(storage.CodeUnavailable, "%s %s: the request was cancelled or timed out: %w", op, what, cause)
		}
	}
	status := httpStatus(err)
	var code, msg string
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	why := code
	if why == "" {
		why = http.StatusText(status)
	}
	if status != 0 {
		why = fmt.Sprintf("HTTP %d %s", status, why)
	}
	if msg != "" {
		why += ": " + msg
	}

	switch {
	case code == "NoSuchBucket":
		return s3NoBucket(bucket)
	case code == "NoSuchUpload": // a 404, but of the upload
		return s3Error(storage.CodeConflict, err, "%s %s: the multipart upload was aborted elsewhere: try again", op, what)
	case code == "NoSuchKey", status == http.StatusNotFound && key != "":
		return s3NoObject(bucket, key)
	case status == http.StatusNotFound:
		return s3NoBucket(bucket)
	case code == "BadDigest":
		return s3Error(storage.CodeUnavailable, err,
			"%s %s: R2 received other bytes than were read (%s): the content changed while it was being uploaded, "+
				"or was damaged on the way; nothing was stored: try again", op, what, why)
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "AccessDenied",
		status == http.StatusUnauthorized, status == http.StatusForbidden:
		return s3Error(storage.CodePermissionDenied, err,
			"%s %s: the R2 credentials lack access (%s): check R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY, "+
				"or, when they are derived from CLOUDFLARE_API_TOKEN, that the token has the Workers R2 Storage permission",
			op, what, why)
	case code == "InvalidRange", status == http.StatusRequestedRangeNotSatisfiable:
		return s3Error(storage.CodeInvalidArgument, err, "range_start: the range is beyond the end of %s", what)
	case code == "EntityTooLarge", code == "MetadataTooLarge", status == http.StatusRequestEntityTooLarge:
		return s3Error(storage.CodeTooLarge, err, "%s %s: R2 refused it as too large (%s)", op, what, why)
	case code == "KeyTooLongError":
		return s3Error(storage.CodeInvalidArgument, err, "key: %q is longer than R2 allows (%s)", key, why)
	case code == "PreconditionFailed", status == http.StatusPreconditionFailed:
		return s3Error(storage.CodeConflict, err, "%s %s: it changed meanwhile: try again", op, what)
	case code == "SlowDown", status == http.StatusTooManyRequests:
		return s3Error(storage.CodeRateLimited, err, "%s %s: R2 is throttling requests (%s): wait a moment and try again", op, what, why)
	case status >= 500:
		return s3Error(storage.CodeUnavailable, err, "%s %s: R2 is unavailable (%s): try again later", op, what, why)
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return s3Error(storage.CodeUnavailable, err, "%s %s: cannot reach the R2 S3 endpoint: %v", op, what, send.Err)
	}
	if why != "" {
		return s3Error(storage.CodeInternal, err, "%s %s: the S3 API answered %s", op, what, why)
	}
	return storage.Errorf(storage.CodeInternal, "%s %s: %w", op, what, err)
}

// httpStatus is the status of the response an error came with, 0 if none.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
