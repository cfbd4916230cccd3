package explorer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func kvPath(ns string) string { return "/storage/kv/namespaces/" + url.PathEscape(ns) }

// KVNamespaces lists the namespaces dev binds: {id, title}.
func (s *Store) KVNamespaces(ctx context.Context) ([]storage.Namespace, error) {
	var out []storage.Namespace
	err := s.call(ctx, request{method: http.MethodGet, path: "/storage/kv/namespaces", what: "listing KV namespaces"}, &out, nil)
	return out, err
}

// Get streams a value; its metadata and expiration come from a listing,
// since the value's GET answers only the bytes.
func (s *Store) Get(ctx context.Context, ns, key string) (*storage.KVValue, error) {
	seg, err := segment("key", key)
	if err != nil {
		return nil, err
	}
	resp, err := s.do(ctx, request{method: http.MethodGet, path: kvPath(ns) + "/values" + seg, what: "reading KV key " + strconv.Quote(key)})
	if err != nil {
		if storage.CodeOf(err) == storage.CodeNotFound {
			return nil, storage.Errorf(storage.CodeNotFound, "key %q: not found", key)
		}
		return nil, err
	}
	info, found, err := s.keyInfo(ctx, ns, key)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	v := &storage.KVValue{Key: key, Size: resp.ContentLength, Body: resp.Body}
	if found {
		v.Metadata, v.Expiration = info.Metadata, info.Expiration
	}
	if v.Size < 0 {
		// Chunked: the size is only known by reading. KV values are at most
		// 25 MiB; this is the one place a value is held whole.
		b, err := io.ReadAll(io.LimitReader(resp.Body, storage.MaxKVValueBytes+1))
		resp.Body.Close()
		if err != nil {
			return nil, storage.Errorf(storage.CodeUnavailable, "wrangler: reading KV key %q: %v", key, err)
		}
		v.Size, v.Body = int64(len(b)), io.NopCloser(bytesReader(b))
	}
	return v, nil
}

// keyInfo finds key in a listing of its own prefix, where it comes first.
func (s *Store) keyInfo(ctx context.Context, ns, key string) (storage.KeyInfo, bool, error) {
	page, err := s.List(ctx, ns, storage.ListOptions{Prefix: key, Limit: storage.MinKVListLimit})
	if err != nil {
		return storage.KeyInfo{}, false, err
	}
	for _, k := range page.Keys {
		if k.Name == key {
			return k, true, nil
		}
	}
	return storage.KeyInfo{}, false, nil
}

// Put writes one value. Without an expiration it goes to the value's own
// endpoint, streamed (with its metadata in a multipart body); with one, to
// the bulk endpoint, the only one that honours an expiration, as a JSON body
// streamed with the value base64-encoded on the way, which caps the value at
// 3/4 of that endpoint's 25 MiB string (maxBulkValue). Neither holds the
// value whole here.
func (s *Store) Put(ctx context.Context, ns string, put storage.KVPut) error {
	if put.Expiry == (storage.Expiry{}) {
		return s.putValue(ctx, ns, put)
	}
	if put.Size > maxBulkValue {
		return storage.Errorf(storage.CodeUnsupported,
			"value: %d bytes with an expiration: wrangler dev's Local Explorer takes an expiration only in a bulk write, whose values are base64 strings of at most 25 MiB, so at most %d bytes; write it without expiration_ttl/expiration, or stop wrangler dev to write through the persisted files",
			put.Size, maxBulkValue)
	}
	head, err := bulkItemHead(put.Key, put.Metadata, put.Expiry)
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := io.WriteString(pw, head)
		if err == nil {
			enc := base64.NewEncoder(base64.StdEncoding, pw)
			err = copyExactly(enc, put.Body, put.Size)
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
		}
		if err == nil {
			_, err = io.WriteString(pw, `"}]`)
		}
		pw.CloseWithError(err)
	}()
	var res bulkResult
	err = s.call(ctx, request{method: http.MethodPut, path: kvPath(ns) + "/bulk", body: pr, size: -1, field: "value",
		header: http.Header{"Content-Type": {"application/json"}}, what: "writing KV key " + strconv.Quote(put.Key)}, &res, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return err
	}
	if len(res.Unsuccessful) > 0 {
		return storage.Errorf(storage.CodeUnavailable, "wrangler: writing KV key %q: dev did not write it; try again", put.Key)
	}
	return nil
}

// maxBulkValue is the largest value whose base64 fits the bulk endpoint's
// string of at most 26,214,400 characters.
const maxBulkValue = 26214400 / 4 * 3

// putValue writes a value without expiration to its own endpoint: the bytes
// as the body, or, with metadata, a multipart body of "metadata" (JSON) and
// "value" (the bytes), streamed.
func (s *Store) putValue(ctx context.Context, ns string, put storage.KVPut) error {
	seg, err := segment("key", put.Key)
	if err != nil {
		return err
	}
	r := request{method: http.MethodPut, path: kvPath(ns) + "/values" + seg, field: "value", what: "writing KV key " + strconv.Quote(put.Key)}
	if len(put.Metadata) == 0 {
		r.body, r.size = io.LimitReader(put.Body, put.Size), put.Size
		r.header = http.Header{"Content-Type": {"application/octet-stream"}}
		return s.call(ctx, r, nil, nil)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="metadata"`)
		h.Set("Content-Type", "application/json")
		w, err := mw.CreatePart(h)
		if err == nil {
			_, err = w.Write(put.Metadata)
		}
		if err == nil {
			w, err = mw.CreateFormFile("value", "value")
		}
		if err == nil {
			err = copyExactly(w, put.Body, put.Size)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	r.body, r.size = pr, -1
	r.header = http.Header{"Content-Type": {mw.FormDataContentType()}}
	err = s.call(ctx, r, nil, nil)
	pr.CloseWithError(io.ErrClosedPipe)
	return err
}

// copyExactly copies size bytes of r to w, failing when r has fewer.
func copyExactly(w io.Writer, r io.Reader, size int64) error {
	n, err := io.Copy(w, io.LimitReader(r, size))
	if err == nil && n != size {
		err = fmt.Errorf("the value has %d bytes, not the %d announced", n, size)
	}
	return err
}

// bulkItemHead is the JSON of one bulk write item up to its value's
// opening quote: every field but the value, which follows.
func bulkItemHead(key string, meta json.RawMessage, e storage.Expiry) (string, error) {
	item := map[string]any{"key": key, "base64": true}
	if len(meta) > 0 {
		item["metadata"] = meta
	}
	if e.TTL > 0 {
		item["expiration_ttl"] = e.TTL
	}
	if e.Expiration > 0 {
		item["expiration"] = e.Expiration
	}
	b, err := json.Marshal(item)
	if err != nil {
		return "", storage.Errorf(storage.CodeInvalidArgument, "metadata: %v", err)
	}
	// {"base64":true,...} -> [{"base64":true,...,"value":"
	return "[" + string(b[:len(b)-1]) + `,"value":"`, nil
}

type bulkResult struct {
	Successful   json.Number `json:"successful_key_count"`
	Unsuccessful []string    `json:"unsuccessful_keys"`
}

// Delete removes a key; an absent key is not an error.
func (s *Store) Delete(ctx context.Context, ns, key string) error {
	seg, err := segment("key", key)
	if err != nil {
		return err
	}
	return s.call(ctx, request{method: http.MethodDelete, path: kvPath(ns) + "/values" + seg, what: "deleting KV key " + strconv.Quote(key)}, nil, nil)
}

// List pages through keys in byte order.
func (s *Store) List(ctx context.Context, ns string, opts storage.ListOptions) (storage.KeyPage, error) {
	q := url.Values{}
	limit := opts.Limit
	if limit == 0 {
		limit = storage.DefaultKVListLimit
	}
	q.Set("limit", strconv.Itoa(limit))
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	var keys []struct {
		Name       string          `json:"name"`
		Expiration json.Number     `json:"expiration"`
		Metadata   json.RawMessage `json:"metadata"`
	}
	var info struct {
		Cursor string `json:"cursor"`
	}
	if err := s.call(ctx, request{method: http.MethodGet, path: kvPath(ns) + "/keys", query: q, what: "listing KV keys"}, &keys, &info); err != nil {
		return storage.KeyPage{}, err
	}
	page := storage.KeyPage{Keys: make([]storage.KeyInfo, 0, len(keys)), Cursor: info.Cursor}
	for _, k := range keys {
		ki := storage.KeyInfo{Name: k.Name}
		if k.Expiration != "" {
			ki.Expiration, _ = k.Expiration.Int64()
		}
		if len(k.Metadata) > 0 && string(k.Metadata) != "null" {
			ki.Metadata = k.Metadata
		}
		page.Keys = append(page.Keys, ki)
	}
	return page, nil
}

// BulkPut writes entries in one request, as Cloudflare's bulk write does.
func (s *Store) BulkPut(ctx context.Context, ns string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	type item struct {
		Key        string          `json:"key"`
		Value      string          `json:"value"`
		Base64     bool            `json:"base64"`
		Metadata   json.RawMessage `json:"metadata,omitempty"`
		Expiration int64           `json:"expiration,omitempty"`
		TTL        int64           `json:"expiration_ttl,omitempty"`
	}
	items := make([]item, len(entries))
	for i, e := range entries {
		items[i] = item{Key: e.Key, Value: base64.StdEncoding.EncodeToString(e.Value), Base64: true,
			Metadata: e.Metadata, Expiration: e.Expiration, TTL: e.TTL}
	}
	body, size, h, err := jsonBody(items)
	if err != nil {
		return storage.BulkPutResult{}, storage.Errorf(storage.CodeInvalidArgument, "entries: %v", err)
	}
	var res bulkResult
	err = s.call(ctx, request{method: http.MethodPut, path: kvPath(ns) + "/bulk", body: body, size: size, header: h, field: "entries", what: "writing KV keys"}, &res, nil)
	if err != nil {
		return storage.BulkPutResult{}, err
	}
	failed := res.Unsuccessful
	if failed == nil {
		failed = []string{}
	}
	return storage.BulkPutResult{Written: len(entries) - len(failed), Failed: failed}, nil
}

// BulkGet reads keys one by one: the bulk endpoint answers values as text,
// which would corrupt binary ones.
func (s *Store) BulkGet(ctx context.Context, ns string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error) {
	out := make([]storage.KVItem, len(keys))
	var total int64
	for i, k := range keys {
		out[i].Key = k
		v, err := s.Get(ctx, ns, k)
		if storage.CodeOf(err) == storage.CodeNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		total += v.Size
		if opts.MaxBytes > 0 && total > opts.MaxBytes {
			v.Body.Close()
			return nil, storage.ErrBulkGetTooLarge(opts.MaxBytes)
		}
		b, err := io.ReadAll(v.Body)
		v.Body.Close()
		if err != nil {
			return nil, storage.Errorf(storage.CodeUnavailable, "wrangler: reading KV key %q: %v", k, err)
		}
		out[i] = storage.KVItem{Key: k, Found: true, Value: b, Metadata: v.Metadata, Expiration: v.Expiration}
	}
	return out, nil
}

// BulkDelete removes keys in one request.
func (s *Store) BulkDelete(ctx context.Context, ns string, keys []string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	body, size, h, err := jsonBody(keys)
	if err != nil {
		return 0, err
	}
	var res bulkResult
	if err := s.call(ctx, request{method: http.MethodPost, path: kvPath(ns) + "/bulk/delete", body: body, size: size, header: h, what: "deleting KV keys"}, &res, nil); err != nil {
		return 0, err
	}
	if len(res.Unsuccessful) > 0 {
		return 0, storage.Errorf(storage.CodeUnavailable, "wrangler: deleting KV keys: dev did not delete %d of them (%q…); try again", len(res.Unsuccessful), res.Unsuccessful[0])
	}
	return len(keys), nil
}
