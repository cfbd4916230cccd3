package cf

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// readChunk is how much of a plain reader is read between two looks at the
// context, so that a cancelled upload stops reading promptly.
const readChunk = 1 << 20

// PutObject uploads exactly put.Size bytes of put.Body.
//
// SigV4 over plain http signs a hash of the body, so every request body must
// be seekable (and a retry rewinds it). A body that is an io.ReaderAt (a
// file) is read through io.NewSectionReader: in one PutObject up to the
// multipart threshold, above it in equal parts sent Concurrency at a time,
// nothing buffered. A plain reader is read in order into part buffers, at
// most Concurrency of them: one PutObject when it fits in one part, parts
// otherwise. Each body (the object, or a part) is hashed before it is sent,
// and goes with its Content-MD5, which R2 checks (see digest). A multipart
// upload that fails or is cancelled is aborted, so no parts are left behind.
func (s *objectStore) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
	}
	if put.Body == nil || put.Size < 0 {
		return storage.ObjectInfo{}, storage.Errorf(storage.CodeInvalidArgument, "content: a body of a known size is required")
	}
	if err := checkHeaderMetadata(put.HTTP, put.CustomMetadata); err != nil {
		return storage.ObjectInfo{}, err
	}
	body := newPutBody(put.Body, put.Size)
	if body.ra != nil {
		// A file can be checked up front; a plain reader once read.
		if err := body.checkEnd(); err != nil {
			return storage.ObjectInfo{}, err
		}
	}
	prog := newProgress(put.Progress, put.Size)

	var (
		info storage.ObjectInfo
		err  error
	)
	if put.Size <= s.threshold && (body.ra != nil || put.Size <= s.partSize) {
		info, err = s.putSingle(ctx, put, body, prog)
	} else {
		info, err = s.putMultipart(ctx, put, body, prog)
	}
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	prog.finish()
	return info, nil
}

func (s *objectStore) putSingle(ctx context.Context, put storage.ObjectPut, body *putBody, prog *progress) (storage.ObjectInfo, error) {
	var r io.ReadSeeker
	if body.ra != nil {
		r = body.section(0, put.Size)
	} else {
		buf := make([]byte, put.Size)
		if err := body.read(ctx, 0, buf); err != nil {
			return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
		}
		if err := body.checkEnd(); err != nil {
			return storage.ObjectInfo{}, err
		}
		r = bytes.NewReader(buf)
	}
	sum, err := digestOf(r, s.signPayload)
	if err != nil {
		return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
	}
	h := put.HTTP
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String(put.Bucket),
		Key:                aws.String(put.Key),
		Body:               r,
		ContentLength:      aws.Int64(put.Size),
		ContentMD5:         sum.contentMD5(),
		ContentType:        optional(h.ContentType),
		ContentLanguage:    optional(h.ContentLanguage),
		ContentDisposition: optional(h.ContentDisposition),
		ContentEncoding:    optional(h.ContentEncoding),
		CacheControl:       optional(h.CacheControl),
		Metadata:           put.CustomMetadata,
	}, prog.track(), sum.signed())
	if err != nil {
		return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
	}
	return putInfo(put, aws.ToString(out.ETag), s.responseTime(out.ResultMetadata)), nil
}

// putInfo describes the object that put wrote.
func putInfo(put storage.ObjectPut, etag string, uploaded time.Time) storage.ObjectInfo {
	return storage.ObjectInfo{
		Key:            put.Key,
		Size:           put.Size,
		ETag:           unquoteETag(etag),
		Uploaded:       uploaded,
		HTTP:           put.HTTP,
		CustomMetadata: maps.Clone(put.CustomMetadata), // not the caller's map
	}
}

// putMultipart uploads in equal parts of the configured part size, larger
// when 10,000 parts would not hold the object.
func (s *objectStore) putMultipart(ctx context.Context, put storage.ObjectPut, body *putBody, prog *progress) (storage.ObjectInfo, error) {
	partSize := partSizeFor(put.Size, s.partSize)
	parts := int((put.Size + partSize - 1) / partSize)
	h := put.HTTP
	up, err := s.startMultipart(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             aws.String(put.Bucket),
		Key:                aws.String(put.Key),
		ContentType:        optional(h.ContentType),
		ContentLanguage:    optional(h.ContentLanguage),
		ContentDisposition: optional(h.ContentDisposition),
		ContentEncoding:    optional(h.ContentEncoding),
		CacheControl:       optional(h.CacheControl),
		Metadata:           put.CustomMetadata,
	})
	if err != nil {
		return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
	}
	s.log.DebugContext(ctx, "r2: multipart upload started",
		"bucket", put.Bucket, "key", put.Key, "size", put.Size, "parts", parts, "part_size", partSize)

	limit := s.concurrency
	if body.ra == nil {
		// Parts of a plain reader are buffered: fewer at a time when parts
		// had to grow, so that memory stays within Concurrency parts of the
		// configured size.
		limit = int(max(1, min(int64(s.concurrency), int64(s.concurrency)*s.partSize/partSize)))
	}
	completed := make([]types.CompletedPart, parts)
	err = forEachPart(ctx, parts, limit, func(ctx context.Context, i int) (func() error, error) {
		off := int64(i) * partSize
		n := min(partSize, put.Size-off)
		var (
			r       io.ReadSeeker
			release = func() {}
		)
		if body.ra != nil {
			r = body.section(off, n)
		} else {
			buf := s.partBuffer(partSize)
			release = func() { s.releasePartBuffer(buf) }
			if err := body.read(ctx, off, buf[:n]); err != nil {
				release()
				return nil, err
			}
			if i == parts-1 {
				if err := body.checkEnd(); err != nil {
					release()
					return nil, err
				}
			}
			r = bytes.NewReader(buf[:n])
		}
		return func() error {
			defer release()
			// Hashed here, concurrently, and sent with the part.
			sum, err := digestOf(r, s.signPayload)
			if err != nil {
				return err
			}
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:        aws.String(up.bucket),
				Key:           aws.String(up.key),
				UploadId:      aws.String(up.id),
				PartNumber:    aws.Int32(int32(i + 1)),
				Body:          r,
				ContentLength: aws.Int64(n),
				ContentMD5:    sum.contentMD5(),
			}, prog.track(), sum.signed())
			if err != nil {
				return err
			}
			completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag}
			return nil
		}, nil
	})
	etag, uploaded, err := s.finishMultipart(ctx, up, completed, put.Size, err)
	if err != nil {
		return storage.ObjectInfo{}, s3Err("uploading", put.Bucket, put.Key, err)
	}
	return putInfo(put, etag, uploaded), nil
}

// partBuffer is a buffer for a part of a plain reader: one of the store's
// when the part has the configured size, so that uploads reuse them. At most
// limit are in use per upload, one per part in flight.
func (s *objectStore) partBuffer(size int64) []byte {
	if size == s.partSize {
		if b, ok := s.buffers.Get().(*[]byte); ok {
			return *b
		}
	}
	return make([]byte, size)
}

func (s *objectStore) releasePartBuffer(b []byte) {
	if int64(len(b)) == s.partSize {
		s.buffers.Put(&b)
	}
}

// multipartUpload names a multipart upload in progress.
type multipartUpload struct {
	bucket, key, id string
}

func (s *objectStore) startMultipart(ctx context.Context, in *s3.CreateMultipartUploadInput) (multipartUpload, error) {
	out, err := s.client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return multipartUpload{}, err
	}
	if aws.ToString(out.UploadId) == "" {
		return multipartUpload{}, errors.New("the S3 API started a multipart upload without an upload id")
	}
	return multipartUpload{bucket: aws.ToString(in.Bucket), key: aws.ToString(in.Key), id: *out.UploadId}, nil
}

// finishMultipart completes up with its parts, in order, when the parts
// went up (partsErr nil), and aborts it otherwise or if completing fails,
// so that no parts are left behind. It returns the new object's ETag and
// upload time; size is the object's.
func (s *objectStore) finishMultipart(ctx context.Context, up multipartUpload, parts []types.CompletedPart, size int64, partsErr error) (string, time.Time, error) {
	if partsErr != nil {
		s.abort(ctx, up)
		return "", time.Time{}, partsErr
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(up.bucket),
		Key:             aws.String(up.key),
		UploadId:        aws.String(up.id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		if etag, uploaded, ok := s.completedAnyway(ctx, up, parts, size); ok {
			s.log.InfoContext(ctx, "r2: a multipart upload completed though the answer to completing it was lost",
				"bucket", up.bucket, "key", up.key, "etag", etag, "err", err)
			return etag, uploaded, nil
		}
		s.abort(ctx, up)
		return "", time.Time{}, err
	}
	s.log.DebugContext(ctx, "r2: multipart upload completed", "bucket", up.bucket, "key", up.key, "parts", len(parts))
	return aws.ToString(out.ETag), s.responseTime(out.ResultMetadata), nil
}

// completedAnyway reports whether a completion that failed did complete:
// when its answer is lost, the SDK sends it again, and R2, done with the
// upload, answers NoSuchUpload. The object then in place is this upload's
// if it has its size and the ETag R2 gives these parts (the MD5 of their
// MD5s, "-", their number; developers.cloudflare.com/r2/objects/multipart-objects).
func (s *objectStore) completedAnyway(ctx context.Context, up multipartUpload, parts []types.CompletedPart, size int64) (string, time.Time, bool) {
	want, ok := multipartETag(parts)
	if !ok || ctx.Err() != nil {
		return "", time.Time{}, false
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(up.bucket), Key: aws.String(up.key)})
	if err != nil || aws.ToInt64(out.ContentLength) != size || unquoteETag(aws.ToString(out.ETag)) != want {
		return "", time.Time{}, false
	}
	return want, aws.ToTime(out.LastModified).UTC(), true
}

// multipartETag is the ETag of an object made of parts, from the parts'
// ETags (the MD5s of their bytes); false when one is not an MD5.
func multipartETag(parts []types.CompletedPart) (string, bool) {
	sums := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(unquoteETag(aws.ToString(p.ETag)))
		if err != nil || len(sum) != md5.Size {
			return "", false
		}
		sums.Write(sum)
	}
	return fmt.Sprintf("%x-%d", sums.Sum(nil), len(parts)), true
}

// digest is what an upload's body is checked by: its MD5, sent as
// Content-MD5 so that R2 refuses bytes that arrive other than they were
// read (BadDigest), and, over plain HTTP, its SHA-256, the payload hash that
// SigV4 signs. Both come from one read of the body, before it is sent: the
// SDK would otherwise read it once more for the SHA-256. Over HTTPS (R2's
// endpoints) the SDK signs UNSIGNED-PAYLOAD for PutObject and UploadPart:
// TLS guards the bytes on the way, and the signed Content-MD5 binds them,
// so the SHA-256 would be CPU spent for nothing.
type digest struct {
	md5    []byte
	sha256 string // "" over HTTPS
}

// digestOf reads r through the hashes and rewinds it; withSHA256 adds the
// SHA-256.
func digestOf(r io.ReadSeeker, withSHA256 bool) (digest, error) {
	m := md5.New()
	var w io.Writer = m
	var h hash.Hash
	if withSHA256 {
		h = sha256.New()
		w = io.MultiWriter(m, h)
	}
	if _, err := io.Copy(w, r); err != nil {
		return digest{}, err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return digest{}, err
	}
	d := digest{md5: m.Sum(nil)}
	if h != nil {
		d.sha256 = hex.EncodeToString(h.Sum(nil))
	}
	return d, nil
}

func (d digest) contentMD5() *string {
	return aws.String(base64.StdEncoding.EncodeToString(d.md5))
}

// signed is an option of the call that sends the body: SigV4 signs the
// SHA-256 of d (the SDK computes none when one is set); without one, the
// SDK's choice (UNSIGNED-PAYLOAD over HTTPS).
func (d digest) signed() func(*s3.Options) {
	if d.sha256 == "" {
		return func(*s3.Options) {}
	}
	preset := middleware.InitializeMiddlewareFunc("PresetPayloadHash",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(v4.SetPayloadHash(ctx, d.sha256), in)
		})
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Initialize.Add(preset, middleware.After)
		})
	}
}

// abort aborts up on a context of its own: the request's is likely done,
// which is often why the upload is being aborted.
func (s *objectStore) abort(ctx context.Context, up multipartUpload) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(up.bucket),
		Key:      aws.String(up.key),
		UploadId: aws.String(up.id),
	})
	if err != nil {
		s.log.WarnContext(ctx, "r2: could not abort a failed multipart upload; its parts stay stored until R2's lifecycle rule removes them",
			"bucket", up.bucket, "key", up.key, "upload_id", up.id, "err", err)
		return
	}
	s.log.DebugContext(ctx, "r2: multipart upload aborted", "bucket", up.bucket, "key", up.key)
}

// partSizeFor is the part size for an object of size bytes: preferred,
// unless 10,000 parts of it would not hold the object; then the least whole
// number of MiB that does.
func partSizeFor(size, preferred int64) int64 {
	const mib = 1 << 20
	need := (size + maxParts - 1) / maxParts
	need = (need + mib - 1) / mib * mib
	return max(preferred, need, minPartSize)
}

// forEachPart runs the parts 0..n-1 of a multipart operation, at most limit
// at a time. start runs in the caller's goroutine, in part order (reading a
// plain body must be sequential), and returns what uploads the part, which
// runs concurrently. The first error cancels the other parts and is
// returned once every part has stopped.
func forEachPart(ctx context.Context, n, limit int, start func(ctx context.Context, i int) (func() error, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	slots := make(chan struct{}, limit)
	for i := range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			fail(err) // no-op after a part's failure: that one is reported
			break
		}
		run, err := start(ctx, i)
		if err != nil {
			<-slots
			fail(err)
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := run(); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return firstErr
}

// ---- copying ----

// copyMultipart copies an object over 5 GiB part by part with UploadPartCopy,
// each part pinned to the source's ETag. A multipart upload does not take
// the source's metadata as CopyObject does, so it is given it.
func (s *objectStore) copyMultipart(ctx context.Context, src, dst storage.ObjectRef, info storage.ObjectInfo) (storage.ObjectInfo, error) {
	partSize := partSizeFor(info.Size, s.copyPartSize)
	parts := int((info.Size + partSize - 1) / partSize)
	h := info.HTTP
	up, err := s.startMultipart(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             aws.String(dst.Bucket),
		Key:                aws.String(dst.Key),
		ContentType:        optional(h.ContentType),
		ContentLanguage:    optional(h.ContentLanguage),
		ContentDisposition: optional(h.ContentDisposition),
		ContentEncoding:    optional(h.ContentEncoding),
		CacheControl:       optional(h.CacheControl),
		Metadata:           info.CustomMetadata,
	})
	if err != nil {
		return storage.ObjectInfo{}, copyErr(src, dst, err)
	}
	s.log.DebugContext(ctx, "r2: multipart copy started",
		"bucket", dst.Bucket, "key", dst.Key, "size", info.Size, "parts", parts, "part_size", partSize)
	source := s3CopySource(src)
	ifMatch := `"` + info.ETag + `"`
	completed := make([]types.CompletedPart, parts)
	err = forEachPart(ctx, parts, s.concurrency, func(ctx context.Context, i int) (func() error, error) {
		off := int64(i) * partSize
		last := min(off+partSize, info.Size) - 1
		return func() error {
			out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
				Bucket:            aws.String(up.bucket),
				Key:               aws.String(up.key),
				UploadId:          aws.String(up.id),
				PartNumber:        aws.Int32(int32(i + 1)),
				CopySource:        aws.String(source),
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", off, last)),
				CopySourceIfMatch: aws.String(ifMatch),
			})
			if err != nil {
				return err
			}
			if out.CopyPartResult == nil || out.CopyPartResult.ETag == nil {
				return fmt.Errorf("the S3 API copied part %d without an ETag", i+1)
			}
			completed[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag}
			return nil
		}, nil
	})
	etag, uploaded, err := s.finishMultipart(ctx, up, completed, info.Size, err)
	if err != nil {
		return storage.ObjectInfo{}, copyErr(src, dst, err)
	}
	info.Key = dst.Key
	info.ETag = unquoteETag(etag)
	info.Uploaded = uploaded
	return info, nil
}

// ---- bodies ----

// putBody is where an upload's bytes come from: an io.ReaderAt (a file),
// read in sections in any order, or a plain reader, read once in order.
type putBody struct {
	ra   io.ReaderAt // nil for a plain reader
	base int64       // where the content starts in ra
	r    io.Reader
	size int64
	done int64 // bytes read of r so far
}

func newPutBody(body io.Reader, size int64) *putBody {
	b := &putBody{r: body, size: size}
	ra, ok := body.(io.ReaderAt)
	if !ok {
		return b
	}
	// The content starts where a seekable body stands, as for a reader.
	// A body that cannot tell (a pipe) is read as a plain reader.
	if sk, ok := body.(io.Seeker); ok {
		off, err := sk.Seek(0, io.SeekCurrent)
		if err != nil {
			return b
		}
		b.base = off
	}
	b.ra = ra
	return b
}

// section is the content's bytes [off, off+n) as a seekable reader, which a
// signature's hash and a retry can rewind.
func (b *putBody) section(off, n int64) io.ReadSeeker {
	return &exactSection{SectionReader: io.NewSectionReader(b.ra, b.base+off, n), off: off, total: b.size}
}

// read fills buf with the next bytes of a plain reader, the content's from
// off on, stopping when ctx is done.
func (b *putBody) read(ctx context.Context, off int64, buf []byte) error {
	if off != b.done {
		return fmt.Errorf("r2: internal error: reading at %d, the reader is at %d", off, b.done)
	}
	for n := 0; n < len(buf); {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("r2: upload stopped after reading %d bytes: %w", b.done, err)
		}
		m, err := b.r.Read(buf[n:min(len(buf), n+readChunk)])
		n += m
		b.done += int64(m)
		switch {
		case errors.Is(err, io.EOF) && n < len(buf):
			return shortBody(b.done, b.size)
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			var se *storage.Error
			if errors.As(err, &se) {
				return err
			}
			return fmt.Errorf("r2: reading the content: %w", err)
		}
	}
	return nil
}

// checkEnd confirms that the content ends at its size, as PutObject's
// contract wants, rather than uploading a truncated prefix of a longer body.
func (b *putBody) checkEnd() error {
	var one [1]byte
	var n int
	if b.ra != nil {
		n, _ = b.ra.ReadAt(one[:], b.base+b.size)
	} else {
		n, _ = io.ReadFull(b.r, one[:])
	}
	if n > 0 {
		return storage.Errorf(storage.CodeInvalidArgument, "content: holds more bytes than its size of %d", b.size)
	}
	return nil
}

func shortBody(got, size int64) error {
	return storage.Errorf(storage.CodeInvalidArgument, "content: got %d bytes where its size says %d", got, size)
}

// exactSection is a section of the content that must be there in full: a
// file shorter than its announced size fails with invalid_argument rather
// than with a request body shorter than its Content-Length.
type exactSection struct {
	*io.SectionReader
	off, total int64 // where the section starts in the content; the content's size
}

func (e *exactSection) Read(p []byte) (int, error) {
	n, err := e.SectionReader.Read(p)
	if errors.Is(err, io.EOF) {
		if pos, _ := e.Seek(0, io.SeekCurrent); pos < e.Size() {
			return n, shortBody(e.off+pos, e.total)
		}
	}
	return n, err
}

// ---- progress ----

// progress reports how many bytes of an upload have gone out: what the HTTP
// transport has read of the request bodies. The callback is called by one
// goroutine at a time, with counts that never go down, and last with the
// size.
type progress struct {
	fn   func(sent int64)
	size int64

	mu     sync.Mutex
	sent   int64
	called bool
}

// newProgress is nil, which reports nothing, when there is no callback.
func newProgress(fn func(int64), size int64) *progress {
	if fn == nil {
		return nil
	}
	return &progress{fn: fn, size: size}
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent += n
	p.called = true
	p.fn(p.sent)
}

// finish reports the whole size once the upload has succeeded, unless that
// was the last report.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.called || p.sent != p.size {
		p.sent, p.called = p.size, true
		p.fn(p.size)
	}
}

// track is an option for the call that sends one body (a part, or the whole
// object): it counts what the transport reads of it. A retried body counts
// only past what earlier attempts sent, so the total never passes the size.
func (p *progress) track() func(*s3.Options) {
	if p == nil {
		return func(*s3.Options) {}
	}
	body := &bodyProgress{p: p}
	return func(o *s3.Options) {
		o.HTTPClient = countingClient{next: o.HTTPClient, body: body}
	}
}

// bodyProgress is the progress of one request body across its attempts.
type bodyProgress struct {
	p    *progress
	mu   sync.Mutex
	high int64 // the most bytes any attempt has sent
}

func (b *bodyProgress) reached(sent int64) {
	b.mu.Lock()
	delta := sent - b.high
	if delta > 0 {
		b.high = sent
	}
	b.mu.Unlock()
	if delta > 0 {
		b.p.add(delta)
	}
}

// countingClient counts the body bytes of each request that it sends.
type countingClient struct {
	next s3.HTTPClient
	body *bodyProgress
}

func (c countingClient) Do(req *http.Request) (*http.Response, error) {
	// As readOnlyBodyClient, which comes next: known, non-zero lengths only.
	if req.Body != nil && req.Body != http.NoBody && req.ContentLength > 0 {
		req.Body = &countingBody{ReadCloser: req.Body, progress: c.body}
	}
	return c.next.Do(req)
}

// countingBody is one attempt's request body; the transport reads it from
// one goroutine.
type countingBody struct {
	io.ReadCloser
	progress *bodyProgress
	sent     int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.sent += int64(n)
		b.progress.reached(b.sent)
	}
	return n, err
}

// ---- metadata ----

// checkHeaderMetadata refuses metadata that cannot travel in HTTP headers,
// as R2's S3 API carries it: names must be HTTP tokens, values free of line
// breaks and other control characters. The HTTP client would refuse them
// later with a less helpful message.
func checkHeaderMetadata(h storage.HTTPMetadata, custom map[string]string) error {
	for _, f := range []struct{ field, value string }{
		{"content_type", h.ContentType},
		{"content_language", h.ContentLanguage},
		{"content_disposition", h.ContentDisposition},
		{"content_encoding", h.ContentEncoding},
		{"cache_control", h.CacheControl},
	} {
		if !validHeaderValue(f.value) {
			return storage.Errorf(storage.CodeInvalidArgument, "%s: %q holds a control character, which an HTTP header cannot carry", f.field, f.value)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(custom)) { // the same error for the same input
		v := custom[k]
		if !validHeaderName(k) {
			return storage.Errorf(storage.CodeInvalidArgument,
				"custom_metadata: name %q cannot be an HTTP header name (x-amz-meta-%s): use letters, digits and -_.", k, k)
		}
		if !validHeaderValue(v) {
			return storage.Errorf(storage.CodeInvalidArgument, "custom_metadata: the value of %q holds a control character, which an HTTP header cannot carry", k)
		}
	}
	return nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

// validHeaderValue reports whether s has no control character but tab.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
