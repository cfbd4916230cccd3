package explorer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func r2Path(bucket string) string { return "/r2/buckets/" + url.PathEscape(bucket) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// R2Buckets lists the buckets dev binds, by name.
func (s *Store) R2Buckets(ctx context.Context) ([]string, error) {
	var res struct {
		Buckets []struct {
			Name string `json:"name"`
		} `json:"buckets"`
	}
	if err := s.call(ctx, request{method: http.MethodGet, path: "/r2/buckets", what: "listing R2 buckets"}, &res, nil); err != nil {
		return nil, err
	}
	out := make([]string, len(res.Buckets))
	for i, b := range res.Buckets {
		out[i] = b.Name
	}
	return out, nil
}

// object is an object as the Local Explorer describes it.
type object struct {
	Key          string            `json:"key"`
	ETag         string            `json:"etag"`
	Size         json.Number       `json:"size"`
	LastModified time.Time         `json:"last_modified"`
	HTTP         httpMetadata      `json:"http_metadata"`
	Custom       map[string]string `json:"custom_metadata"`
}

type httpMetadata struct {
	ContentType        string `json:"contentType"`
	ContentLanguage    string `json:"contentLanguage"`
	ContentDisposition string `json:"contentDisposition"`
	ContentEncoding    string `json:"contentEncoding"`
	CacheControl       string `json:"cacheControl"`
}

func (o object) info() storage.ObjectInfo {
	size, _ := o.Size.Int64()
	info := storage.ObjectInfo{Key: o.Key, Size: size, ETag: o.ETag, Uploaded: o.LastModified,
		HTTP: storage.HTTPMetadata(o.HTTP)}
	if len(o.Custom) > 0 {
		info.CustomMetadata = o.Custom
	}
	return info
}

// ListObjects pages through a bucket; the Local Explorer's listing carries
// no HTTP or custom metadata (it asks R2 with include: []), as an S3 listing.
func (s *Store) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	q := url.Values{}
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultObjectList
	}
	q.Set("per_page", strconv.Itoa(limit))
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Delimiter != "" {
		q.Set("delimiter", opts.Delimiter)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var objs []object
	var info struct {
		Delimited []string `json:"delimited"`
		Cursor    string   `json:"cursor"`
		Truncated string   `json:"is_truncated"`
	}
	if err := s.call(ctx, request{method: http.MethodGet, path: r2Path(bucket) + "/objects", query: q, what: "listing R2 objects"}, &objs, &info); err != nil {
		return storage.ObjectPage{}, err
	}
	page := storage.ObjectPage{Objects: make([]storage.ObjectInfo, 0, len(objs)), Prefixes: info.Delimited}
	if page.Prefixes == nil {
		page.Prefixes = []string{}
	}
	for _, o := range objs {
		page.Objects = append(page.Objects, o.info())
	}
	if info.Truncated == "true" {
		page.Cursor = info.Cursor
	}
	return page, nil
}

// HeadObject describes an object with all its metadata.
func (s *Store) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	seg, err := segment("key", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	var o object
	err = s.call(ctx, request{method: http.MethodGet, path: r2Path(bucket) + "/objects" + seg,
		header: http.Header{"Cf-Metadata-Only": {"true"}}, what: "reading R2 object " + strconv.Quote(key)}, &o, nil)
	if storage.CodeOf(err) == storage.CodeNotFound {
		return storage.ObjectInfo{}, storage.Errorf(storage.CodeNotFound, "object %q: not found in bucket %q", key, bucket)
	}
	return o.info(), err
}

// GetObject streams an object. Its metadata comes from a HEAD-like call
// (the GET's headers carry only Content-Type, and custom metadata with the
// case of its names lost); the ETag of both must agree, or the object
// changed in between and is read again. The Local Explorer has no ranges:
// a range is cut from the stream here.
func (s *Store) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	seg, err := segment("key", key)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		info, err := s.HeadObject(ctx, bucket, key)
		if err != nil {
			return nil, err
		}
		resp, err := s.do(ctx, request{method: http.MethodGet, path: r2Path(bucket) + "/objects" + seg, what: "reading R2 object " + strconv.Quote(key)})
		if storage.CodeOf(err) == storage.CodeNotFound {
			return nil, storage.Errorf(storage.CodeNotFound, "object %q: not found in bucket %q", key, bucket)
		}
		if err != nil {
			return nil, err
		}
		if resp.Header.Get("ETag") != info.ETag && attempt < 3 {
			resp.Body.Close()
			continue
		}
		return cut(resp.Body, info, rng)
	}
}

// cut returns the bytes of rng from body, the whole object without one.
func cut(body io.ReadCloser, info storage.ObjectInfo, rng *storage.ByteRange) (*storage.Object, error) {
	if rng == nil {
		return &storage.Object{Info: info, Length: info.Size, Body: body}, nil
	}
	end := rng.End
	if end < 0 || end >= info.Size {
		end = info.Size - 1
	}
	if rng.Start > end {
		body.Close()
		return nil, storage.Errorf(storage.CodeInvalidArgument, "range: bytes %d-%d are outside the object's %d bytes", rng.Start, rng.End, info.Size)
	}
	if _, err := io.CopyN(io.Discard, body, rng.Start); err != nil {
		body.Close()
		return nil, storage.Errorf(storage.CodeUnavailable, "wrangler: reading R2 object %q: %v", info.Key, err)
	}
	n := end - rng.Start + 1
	return &storage.Object{Info: info, Length: n, Body: readCloser{io.LimitReader(body, n), body}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// PutObject streams an object to dev. The Local Explorer keeps only the
// Content-Type of the HTTP metadata: an object with any other is refused
// rather than written without it.
func (s *Store) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	if err := checkHTTPMetadata(put.HTTP); err != nil {
		return storage.ObjectInfo{}, err
	}
	seg, err := segment("key", put.Key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}}
	if put.HTTP.ContentType != "" {
		h.Set("Content-Type", put.HTTP.ContentType)
	}
	if len(put.CustomMetadata) > 0 {
		h.Set("Cf-R2-Custom-Metadata", asciiJSON(put.CustomMetadata))
	}
	var body io.Reader = io.LimitReader(put.Body, put.Size)
	if put.Progress != nil {
		body = &progressReader{r: body, f: put.Progress}
	}
	var res struct {
		ETag string `json:"etag"`
	}
	err = s.call(ctx, request{method: http.MethodPut, path: r2Path(put.Bucket) + "/objects" + seg, header: h,
		body: body, size: put.Size, field: "content", what: "writing R2 object " + strconv.Quote(put.Key)}, &res, nil)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	// The answer has no upload time: ask.
	info, err := s.HeadObject(ctx, put.Bucket, put.Key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return info, nil
}

// checkHTTPMetadata refuses HTTP metadata that the Local Explorer would drop.
func checkHTTPMetadata(m storage.HTTPMetadata) error {
	for _, f := range []struct{ name, v string }{
		{"content_language", m.ContentLanguage}, {"content_disposition", m.ContentDisposition},
		{"content_encoding", m.ContentEncoding}, {"cache_control", m.CacheControl},
	} {
		if f.v != "" {
			return storage.Errorf(storage.CodeUnsupported,
				"%s: wrangler dev's Local Explorer (wrangler 4.164.0) keeps only the Content-Type of an object's HTTP metadata; leave %s out, or stop wrangler dev to write through the persisted files",
				f.name, f.name)
		}
	}
	return nil
}

// asciiJSON is v as JSON with every non-ASCII character escaped: it travels
// in a header, which workerd reads as Latin-1.
func asciiJSON(v any) string {
	b, _ := json.Marshal(v)
	var out bytes.Buffer
	for _, r := range string(b) {
		if r < 0x80 {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16Units(r) {
			out.WriteString(`\u`)
			out.WriteString(strconv.FormatInt(int64(u)|0x10000, 16)[1:])
		}
	}
	return out.String()
}

func utf16Units(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xD800 + (r >> 10)), uint16(0xDC00 + (r & 0x3FF))}
}

type progressReader struct {
	r io.Reader
	n int64
	f func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.f(p.n)
	}
	return n, err
}

// CopyObject reads the source and writes it to the destination, with its
// Content-Type and custom metadata: the Local Explorer has no copy.
func (s *Store) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	obj, err := s.GetObject(ctx, src.Bucket, src.Key, nil)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	defer obj.Body.Close()
	return s.PutObject(ctx, storage.ObjectPut{Bucket: dst.Bucket, Key: dst.Key, Body: obj.Body, Size: obj.Info.Size,
		HTTP: obj.Info.HTTP, CustomMetadata: obj.Info.CustomMetadata})
}

// DeleteObjects removes keys in one request; absent keys count as deleted.
func (s *Store) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	if len(keys) == 0 {
		return storage.DeleteResult{Deleted: []string{}}, nil
	}
	body, size, h, err := jsonBody(keys)
	if err != nil {
		return storage.DeleteResult{}, err
	}
	if err := s.call(ctx, request{method: http.MethodDelete, path: r2Path(bucket) + "/objects", body: body, size: size, header: h, what: "deleting R2 objects"}, nil, nil); err != nil {
		return storage.DeleteResult{}, err
	}
	return storage.DeleteResult{Deleted: append([]string(nil), keys...)}, nil
}
