package cf

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cloudflare/cloudflare-go/v7/kv"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// kvStore is Workers KV over Cloudflare's REST API. Storage.Guard has
// checked every argument against Cloudflare's limits before a call gets
// here.
type kvStore struct{ b *Backend }

var _ storage.KV = (*kvStore)(nil)

func (k *kvStore) api() *kv.NamespaceService { return k.b.rest.namespaces }

// nsPerPage is the largest page of namespaces Cloudflare serves (per_page
// 5..100 in the reference spec): few requests per listing.
const nsPerPage = 100

// ListNamespaces pages through Cloudflare's numbered pages, ordered by
// title. The storage cursor is the position of the next namespace to
// return, so pages of any limit line up with Cloudflare's pages of 100.
// Like any page-numbered listing, a namespace created or deleted between two
// calls shifts the positions after it. Prefix is applied here: Cloudflare
// cannot filter titles.
func (k *kvStore) ListNamespaces(ctx context.Context, opts storage.ListOptions) (storage.NamespacePage, error) {
	c := call{op: "listing KV namespaces", area: areaKV}
	acct, err := k.b.account(ctx)
	if err != nil {
		return storage.NamespacePage{}, err
	}
	pos, err := decodePosition(opts.Cursor)
	if err != nil {
		return storage.NamespacePage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultNamespaceList, storage.MaxNamespaceList)
	out := storage.NamespacePage{Namespaces: []storage.Namespace{}}
	for n := pos / nsPerPage; ; n++ {
		var p kv.NamespaceListParams
		p.AccountID.Value, p.AccountID.Present = acct, true
		p.Page.Value, p.Page.Present = float64(n+1), true
		p.PerPage.Value, p.PerPage.Present = nsPerPage, true
		p.Order.Value, p.Order.Present = kv.NamespaceListParamsOrderTitle, true
		p.Direction.Value, p.Direction.Present = kv.NamespaceListParamsDirectionAsc, true
		res, err := k.api().List(ctx, p)
		if err != nil {
			return storage.NamespacePage{}, c.fail(ctx, err)
		}
		for i, ns := range res.Result {
			at := n*nsPerPage + i
			if at < pos || !strings.HasPrefix(ns.Title, opts.Prefix) {
				continue
			}
			if len(out.Namespaces) == limit {
				out.Cursor = encodePosition(at)
				return out, nil
			}
			out.Namespaces = append(out.Namespaces, storage.Namespace{ID: ns.ID, Title: ns.Title})
		}
		if len(res.Result) < nsPerPage {
			return out, nil
		}
	}
}

// position is where a namespace listing stopped. As a cursor
// (storage.EncodeCursor) a cursor of another listing, which has no count,
// is refused.
type position struct {
	Namespaces int `json:"ns"`
}

func encodePosition(n int) string { return storage.EncodeCursor(position{Namespaces: n}) }

func decodePosition(cursor string) (int, error) {
	p, err := storage.DecodeCursor(cursor, func(p position) bool { return p.Namespaces > 0 })
	return p.Namespaces, err
}

func (k *kvStore) GetNamespace(ctx context.Context, id string) (storage.Namespace, error) {
	c := call{op: "reading KV namespace", area: areaKV, namespace: id}
	acct, err := k.b.account(ctx)
	if err != nil {
		return storage.Namespace{}, err
	}
	var p kv.NamespaceGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	res, err := k.api().Get(ctx, seg(id), p)
	if err != nil {
		return storage.Namespace{}, c.fail(ctx, err)
	}
	return storage.Namespace{ID: res.ID, Title: res.Title}, nil
}

func (k *kvStore) CreateNamespace(ctx context.Context, title string) (storage.Namespace, error) {
	c := call{op: "creating KV namespace", area: areaKV, write: true, title: title}
	acct, err := k.b.account(ctx)
	if err != nil {
		return storage.Namespace{}, err
	}
	var p kv.NamespaceNewParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Title.Value, p.Title.Present = title, true
	res, err := k.api().New(ctx, p)
	if err != nil {
		return storage.Namespace{}, c.fail(ctx, err)
	}
	return storage.Namespace{ID: res.ID, Title: res.Title}, nil
}

func (k *kvStore) RenameNamespace(ctx context.Context, id, title string) error {
	c := call{op: "renaming KV namespace", area: areaKV, write: true, namespace: id, title: title}
	acct, err := k.b.account(ctx)
	if err != nil {
		return err
	}
	var p kv.NamespaceUpdateParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Title.Value, p.Title.Present = title, true
	_, err = k.api().Update(ctx, seg(id), p)
	err = c.fail(ctx, err)
	if errors.Is(err, storage.ErrAlreadyExists) {
		// The title may be the namespace's own: renaming to it changes
		// nothing, and is no error (as on the local backend).
		if ns, gerr := k.GetNamespace(ctx, id); gerr == nil && ns.Title == title {
			return nil
		}
	}
	return err
}

func (k *kvStore) DeleteNamespace(ctx context.Context, id string) error {
	c := call{op: "deleting KV namespace", area: areaKV, write: true, namespace: id}
	acct, err := k.b.account(ctx)
	if err != nil {
		return err
	}
	var p kv.NamespaceDeleteParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	dctx, tries := withAttempts(ctx)
	_, err = k.api().Delete(dctx, seg(id), p)
	return c.failDelete(ctx, tries, err)
}

// Get reads the value and its metadata, which come from two endpoints, at
// once: the value's response carries the expiration but not the metadata.
// A write between the two reads may pair a value with the metadata of the
// next write; KV is eventually consistent anyway.
func (k *kvStore) Get(ctx context.Context, namespaceID, key string) (*storage.KVValue, error) {
	c := call{op: "reading key", area: areaKV, namespace: namespaceID, key: key}
	acct, err := k.b.account(ctx)
	if err != nil {
		return nil, err
	}
	// rctx ends the metadata read when the value is missing, and the value
	// read when its body is closed.
	rctx, cancel := context.WithCancel(ctx)
	meta := make(chan metadataResult, 1)
	go func() { meta <- k.metadata(rctx, acct, namespaceID, key) }()

	var p kv.NamespaceValueGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	res, err := k.api().Values.Get(rctx, seg(namespaceID), seg(key), p)
	if err != nil {
		cancel()
		<-meta
		return nil, c.fail(ctx, err)
	}
	body := io.ReadCloser(&cancelOnClose{ReadCloser: res.Body, cancel: cancel})
	m := <-meta
	if m.err != nil && !errors.Is(m.err, storage.ErrNotFound) {
		// Not found: deleted between the two reads. The value was there.
		body.Close()
		return nil, m.err
	}
	size := res.ContentLength
	if size < 0 {
		// No length given: the value is read here, at most 25 MiB.
		data, err := io.ReadAll(io.LimitReader(body, storage.MaxKVValueBytes+1))
		body.Close()
		if err != nil {
			return nil, c.fail(ctx, err)
		}
		body, size = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	}
	return &storage.KVValue{
		Key:        key,
		Size:       size,
		Metadata:   m.meta,
		Expiration: expirationHeader(res.Header),
		Body:       body,
	}, nil
}

type metadataResult struct {
	meta json.RawMessage
	err  error
}

func (k *kvStore) metadata(ctx context.Context, acct, namespaceID, key string) metadataResult {
	c := call{op: "reading key metadata", area: areaKV, namespace: namespaceID, key: key}
	var p kv.NamespaceMetadataGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	// The SDK decodes the metadata into an interface{}, which would turn
	// numbers into floats: the result is kept as it came.
	var env struct {
		Result json.RawMessage `json:"result"`
	}
	_, err := k.api().Metadata.Get(ctx, seg(namespaceID), seg(key), p, option.WithResponseBodyInto(&env))
	if err != nil {
		return metadataResult{err: c.fail(ctx, err)}
	}
	return metadataResult{meta: rawJSON(env.Result)}
}

// expirationHeader reads the `expiration` header of a value (Unix seconds);
// 0 when the value does not expire.
func expirationHeader(h http.Header) int64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(h.Get("Expiration")), 64)
	if err != nil || v <= 0 {
		return 0
	}
	return int64(v)
}

// rawJSON is metadata as the API gave it; JSON null (or nothing) is none.
func rawJSON(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil
	}
	return raw
}

// Put streams the value (see valueBody), with the expiry in the query.
func (k *kvStore) Put(ctx context.Context, namespaceID string, put storage.KVPut) error {
	c := call{op: "writing key", area: areaKV, write: true, namespace: namespaceID, key: put.Key}
	if put.Body == nil {
		return storage.Errorf(storage.CodeInvalidArgument, "value: is required")
	}
	acct, err := k.b.account(ctx)
	if err != nil {
		return err
	}
	var p kv.NamespaceValueUpdateParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	switch {
	case put.TTL > 0:
		p.ExpirationTTL.Value, p.ExpirationTTL.Present = float64(put.TTL), true
	case put.Expiration > 0:
		p.Expiration.Value, p.Expiration.Present = float64(put.Expiration), true
	}
	body := newValueBody(ctx, put.Body, put.Size, put.Metadata)
	_, err = k.api().Values.Update(ctx, seg(namespaceID), seg(put.Key), p,
		option.WithRequestBody(body.contentType, io.ReadCloser(body)))
	if berr := body.err(); berr != nil && err != nil {
		return berr
	}
	return c.fail(ctx, err)
}

func (k *kvStore) Delete(ctx context.Context, namespaceID, key string) error {
	c := call{op: "deleting key", area: areaKV, write: true, namespace: namespaceID, key: key}
	acct, err := k.b.account(ctx)
	if err != nil {
		return err
	}
	var p kv.NamespaceValueDeleteParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	_, err = k.api().Values.Delete(ctx, seg(namespaceID), seg(key), p)
	return c.fail(ctx, err)
}

// List passes Cloudflare's cursor through: it marks a position in the key
// space, and is empty on the last page.
func (k *kvStore) List(ctx context.Context, namespaceID string, opts storage.ListOptions) (storage.KeyPage, error) {
	c := call{op: "listing keys", area: areaKV, namespace: namespaceID}
	acct, err := k.b.account(ctx)
	if err != nil {
		return storage.KeyPage{}, err
	}
	var p kv.NamespaceKeyListParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Limit.Value, p.Limit.Present = float64(storage.PageSize(opts.Limit, storage.DefaultKVListLimit, storage.MaxKVListLimit)), true
	if opts.Prefix != "" {
		p.Prefix.Value, p.Prefix.Present = opts.Prefix, true
	}
	if opts.Cursor != "" {
		p.Cursor.Value, p.Cursor.Present = opts.Cursor, true
	}
	res, err := k.api().Keys.List(ctx, seg(namespaceID), p)
	if err != nil {
		return storage.KeyPage{}, c.fail(ctx, err)
	}
	page := storage.KeyPage{Keys: make([]storage.KeyInfo, 0, len(res.Result)), Cursor: res.ResultInfo.Cursor}
	for _, key := range res.Result {
		page.Keys = append(page.Keys, storage.KeyInfo{
			Name:       key.Name,
			Expiration: int64(key.Expiration),
			// As it came: the SDK's interface{} would turn numbers into
			// floats.
			Metadata: rawJSON(json.RawMessage(key.JSON.Metadata.Raw())),
		})
	}
	return page, nil
}

// maxBulkRequestBytes is Cloudflare's limit on a bulk write request: "The
// entire request size must be 100 megabytes or less" (reference spec).
// Storage.Guard bounds the entries to 100 MB, but their JSON is larger
// (escapes, base64), so a write may take more than one request.
const maxBulkRequestBytes = 100_000_000

// bulkEntry is one entry of a bulk write, as the API takes it.
type bulkEntry struct {
	Key           string          `json:"key"`
	Value         string          `json:"value"`
	Base64        bool            `json:"base64,omitempty"`
	Expiration    int64           `json:"expiration,omitempty"`
	ExpirationTTL int64           `json:"expiration_ttl,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// BulkPut writes entries in as few requests as Cloudflare's limits allow
// (10,000 entries and 100 MB each), and sums their results. Values that are
// not valid UTF-8 travel base64-encoded (a JSON string cannot carry them);
// the others as text. A request that fails ends the write: the entries of
// the requests before it are written, and counted in the result returned
// with the error.
func (k *kvStore) BulkPut(ctx context.Context, namespaceID string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	c := call{op: "writing keys", area: areaKV, write: true, namespace: namespaceID}
	acct, err := k.b.account(ctx)
	if err != nil {
		return storage.BulkPutResult{}, err
	}
	out := storage.BulkPutResult{Failed: []string{}}
	chunks, err := bulkChunks(entries, storage.MaxBulkEntries, maxBulkRequestBytes)
	if err != nil {
		return out, err
	}
	for _, body := range chunks {
		var p kv.NamespaceBulkUpdateParams
		p.AccountID.Value, p.AccountID.Present = acct, true
		res, err := k.api().BulkUpdate(ctx, seg(namespaceID), p, option.WithRequestBody("application/json", body))
		if err != nil {
			err = c.fail(ctx, err)
			if out.Written > 0 {
				err = explain(err, " (%d entries were written by the requests before)", out.Written)
			}
			return out, err
		}
		out.Written += int(res.SuccessfulKeyCount)
		out.Failed = append(out.Failed, res.UnsuccessfulKeys...)
	}
	return out, nil
}

// bulkChunks encodes entries as the bodies of bulk write requests: JSON
// arrays of at most maxEntries entries and maxBytes bytes each (an entry
// larger than maxBytes alone goes alone: Cloudflare refuses it).
func bulkChunks(entries []storage.KVEntry, maxEntries, maxBytes int) ([][]byte, error) {
	var (
		chunks   [][]byte
		buf, one bytes.Buffer
		n        int // entries in buf
	)
	enc := json.NewEncoder(&one)
	enc.SetEscapeHTML(false) // "<" as itself: fewer bytes than "\u003c"
	flush := func() {
		if n > 0 {
			buf.WriteByte(']')
			chunks = append(chunks, bytes.Clone(buf.Bytes()))
		}
		buf.Reset()
		n = 0
	}
	for _, e := range entries {
		be := bulkEntry{Key: e.Key, Expiration: e.Expiration, ExpirationTTL: e.TTL, Metadata: e.Metadata}
		if utf8.Valid(e.Value) {
			be.Value = string(e.Value)
		} else {
			be.Value, be.Base64 = base64.StdEncoding.EncodeToString(e.Value), true
		}
		one.Reset()
		if err := enc.Encode(be); err != nil {
			return nil, storage.Errorf(storage.CodeInvalidArgument, "entries: key %q: %v", e.Key, err)
		}
		item := bytes.TrimSuffix(one.Bytes(), []byte("\n"))
		// "[" or "," before the item, "]" after the last one.
		if n > 0 && (n == maxEntries || buf.Len()+1+len(item)+1 > maxBytes) {
			flush()
		}
		if n == 0 {
			buf.WriteByte('[')
		} else {
			buf.WriteByte(',')
		}
		buf.Write(item)
		n++
	}
	flush()
	return chunks, nil
}

// BulkGet reads up to 100 values with their metadata in one request. The
// API returns values as JSON text, which cannot carry bytes that are not
// UTF-8: Cloudflare documents bulk reads for text values only, and a binary
// value may be refused or come back altered. Get (one key) is exact for any
// bytes.
// BulkGet checks opts.MaxBytes once the answer is decoded: Cloudflare
// answers with every value at once, so the sizes are not known before.
func (k *kvStore) BulkGet(ctx context.Context, namespaceID string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error) {
	c := call{op: "reading keys", area: areaKV, namespace: namespaceID}
	acct, err := k.b.account(ctx)
	if err != nil {
		return nil, err
	}
	var p kv.NamespaceBulkGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Keys.Value, p.Keys.Present = keys, true
	p.Type.Value, p.Type.Present = kv.NamespaceBulkGetParamsTypeText, true
	p.WithMetadata.Value, p.WithMetadata.Present = true, true
	res, err := k.api().BulkGet(withIdempotent(ctx), seg(namespaceID), p)
	if err != nil {
		return nil, c.fail(ctx, err)
	}
	var values map[string]json.RawMessage
	if raw := res.JSON.Values.Raw(); raw != "" {
		if err := json.Unmarshal([]byte(raw), &values); err != nil {
			return nil, storage.Errorf(storage.CodeInternal, "cloudflare: %s: unreadable answer: %v", c.op, err)
		}
	}
	items := make([]storage.KVItem, len(keys))
	var total int64
	for i, key := range keys {
		items[i] = storage.KVItem{Key: key}
		if err := decodeBulkValue(values[key], &items[i]); err != nil {
			return nil, storage.Errorf(storage.CodeInternal, "cloudflare: %s: unreadable value of %q: %v", c.op, key, err)
		}
		if total += int64(len(items[i].Value)); opts.MaxBytes > 0 && total > opts.MaxBytes {
			return nil, storage.ErrBulkGetTooLarge(opts.MaxBytes)
		}
	}
	return items, nil
}

// decodeBulkValue reads one answer of a bulk read with metadata: null for a
// missing key, else {"value", "metadata", "expiration"}.
func decodeBulkValue(raw json.RawMessage, it *storage.KVItem) error {
	if rawJSON(raw) == nil {
		return nil
	}
	var v struct {
		Value      json.RawMessage `json:"value"`
		Metadata   json.RawMessage `json:"metadata"`
		Expiration float64         `json:"expiration"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	it.Found, it.Metadata, it.Expiration = true, rawJSON(v.Metadata), int64(v.Expiration)
	var text string
	if err := json.Unmarshal(v.Value, &text); err != nil {
		// Not a string: a value read as JSON; its text is the value.
		it.Value = bytes.Clone(v.Value)
		return nil
	}
	it.Value = []byte(text)
	return nil
}

// BulkDelete deletes up to 10,000 keys in one request. Cloudflare counts
// absent keys as deleted; keys it reports as not deleted make an error that
// names them, to be retried.
func (k *kvStore) BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error) {
	c := call{op: "deleting keys", area: areaKV, write: true, namespace: namespaceID}
	acct, err := k.b.account(ctx)
	if err != nil {
		return 0, err
	}
	var p kv.NamespaceBulkDeleteParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Body = keys
	res, err := k.api().BulkDelete(withIdempotent(ctx), seg(namespaceID), p)
	if err != nil {
		return 0, c.fail(ctx, err)
	}
	n := int(res.SuccessfulKeyCount)
	if res.JSON.SuccessfulKeyCount.IsMissing() {
		n = len(keys) - len(res.UnsuccessfulKeys) // an answer without the count
	}
	if len(res.UnsuccessfulKeys) > 0 {
		return n, storage.Errorf(storage.CodeUnavailable, "cloudflare: %s: %d of %d keys were not deleted (%s): try them again",
			c.op, len(res.UnsuccessfulKeys), len(keys), quoteSome(res.UnsuccessfulKeys, 5))
	}
	return n, nil
}

// quoteSome quotes the first n of keys, and says how many more there are.
func quoteSome(keys []string, n int) string {
	var b strings.Builder
	for i, k := range keys {
		if i == n {
			fmt.Fprintf(&b, " and %d more", len(keys)-n)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k))
	}
	return b.String()
}
