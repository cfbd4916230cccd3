package resources

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// read serves one resources/read: an object, a KV value or a folder listing.
func (r *Resources) read(ctx context.Context, uri string) ([]mcp.ResourceContents, error) {
	if strings.HasPrefix(uri, schemeD1+"://") {
		return r.readD1(ctx, uri)
	}
	ref, err := parseURI(uri)
	if err != nil {
		return nil, err
	}
	switch {
	case ref.scheme == schemeR2 && ref.folder:
		return r.readBucketFolder(ctx, uri, ref)
	case ref.scheme == schemeR2:
		return r.readObject(ctx, uri, ref)
	case ref.folder:
		return r.readNamespaceFolder(ctx, uri, ref)
	default:
		return r.readValue(ctx, uri, ref)
	}
}

func (r *Resources) tooLarge(size int64, alternative string) error {
	return storage.Errorf(storage.CodeTooLarge,
		"%d bytes is over the inline limit of %d bytes (--max-inline-bytes); %s", size, r.maxInline, alternative)
}

// readAll reads a body known to be at most r.maxInline bytes long, refusing
// it if it turns out longer.
func (r *Resources) readAll(body io.Reader, alternative string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(body, r.maxInline+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > r.maxInline {
		return nil, r.tooLarge(int64(len(data)), alternative)
	}
	return data, nil
}

const (
	r2Alternative = "call the r2_download tool with save_to to stream it to a file, or with range_start/range_end to read a part"
	kvAlternative = "call the kv_get tool with save_to to stream it to a file"
)

func (r *Resources) readObject(ctx context.Context, uri string, ref ref) ([]mcp.ResourceContents, error) {
	obj, err := r.store.R2().GetObject(ctx, ref.container, ref.key, nil)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	if obj.Info.Size > r.maxInline {
		return nil, r.tooLarge(obj.Info.Size, r2Alternative)
	}
	data, err := r.readAll(obj.Body, r2Alternative)
	if err != nil {
		return nil, err
	}
	ct := obj.Info.HTTP.ContentType
	if ct == "" {
		ct = guessType(ref.key, data)
	}
	meta := map[string]any{"size": obj.Info.Size, "etag": obj.Info.ETag, "uploaded": rfc3339(obj.Info.Uploaded)}
	if len(obj.Info.CustomMetadata) > 0 {
		meta["custom_metadata"] = obj.Info.CustomMetadata
	}
	if isText(ct) && utf8.Valid(data) {
		return []mcp.ResourceContents{mcp.TextResourceContents{Meta: meta, URI: uri, MIMEType: ct, Text: string(data)}}, nil
	}
	return []mcp.ResourceContents{mcp.BlobResourceContents{Meta: meta, URI: uri, MIMEType: ct,
		Blob: base64.StdEncoding.EncodeToString(data)}}, nil
}

func (r *Resources) readValue(ctx context.Context, uri string, ref ref) ([]mcp.ResourceContents, error) {
	ns, err := r.store.Namespace(ctx, ref.container)
	if err != nil {
		return nil, err
	}
	v, err := r.store.KV().Get(ctx, ns.ID, ref.key)
	if err != nil {
		return nil, err
	}
	defer v.Body.Close()
	if v.Size > r.maxInline {
		return nil, r.tooLarge(v.Size, kvAlternative)
	}
	data, err := r.readAll(v.Body, kvAlternative)
	if err != nil {
		return nil, err
	}
	meta := map[string]any{"size": len(data)}
	if len(v.Metadata) > 0 {
		meta["metadata"] = v.Metadata
	}
	if v.Expiration > 0 {
		meta["expiration"] = v.Expiration // Unix seconds, as kv_get and Cloudflare's KV API
	}
	if utf8.Valid(data) {
		ct := "text/plain; charset=utf-8"
		if looksLikeJSON(data) {
			ct = "application/json"
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{Meta: meta, URI: uri, MIMEType: ct, Text: string(data)}}, nil
	}
	return []mcp.ResourceContents{mcp.BlobResourceContents{Meta: meta, URI: uri, MIMEType: http.DetectContentType(data),
		Blob: base64.StdEncoding.EncodeToString(data)}}, nil
}

// folderEntry is a sub-folder in a listing.
type folderEntry struct {
	Name string `json:"name"`
	URI  string `json:"uri"`
}

// objectEntry is an object in a bucket listing.
type objectEntry struct {
	Name        string `json:"name"`
	Key         string `json:"key"`
	URI         string `json:"uri"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type,omitempty"`
	Modified    string `json:"modified"`
	ETag        string `json:"etag,omitempty"`
}

// bucketListing is what a bucket folder reads as.
type bucketListing struct {
	URI     string        `json:"uri"`
	Bucket  string        `json:"bucket"`
	Prefix  string        `json:"prefix"`
	Folders []folderEntry `json:"folders"`
	Objects []objectEntry `json:"objects"`
	Next    string        `json:"next,omitempty"`
}

// keyEntry is a key in a namespace listing.
type keyEntry struct {
	Name       string          `json:"name"`
	Key        string          `json:"key"`
	URI        string          `json:"uri"`
	Expiration int64           `json:"expiration,omitempty"` // Unix seconds, as kv_list
	Metadata   json.RawMessage `json:"metadata,omitempty"`
}

// namespaceListing is what a namespace folder reads as.
type namespaceListing struct {
	URI       string            `json:"uri"`
	Namespace storage.Namespace `json:"namespace"`
	Prefix    string            `json:"prefix"`
	Keys      []keyEntry        `json:"keys"`
	Next      string            `json:"next,omitempty"`
}

func listingContents(uri string, v any) ([]mcp.ResourceContents, error) {
	text, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return []mcp.ResourceContents{mcp.TextResourceContents{URI: uri, MIMEType: "application/json", Text: string(text)}}, nil
}

// emptyFolder reports a folder below the root that holds nothing: folders
// exist only through what is in them, so it is not found.
func emptyFolder(ref ref) error {
	return storage.Errorf(storage.CodeNotFound, "no keys start with %q", ref.key)
}

func (r *Resources) readBucketFolder(ctx context.Context, uri string, ref ref) ([]mcp.ResourceContents, error) {
	page, err := r.store.R2().ListObjects(ctx, ref.container, storage.ObjectListOptions{
		Prefix: ref.key, Delimiter: "/", Cursor: ref.cursor, Limit: min(r.pageSize, storage.MaxObjectList)})
	if err != nil {
		return nil, err
	}
	out := bucketListing{URI: uri, Bucket: ref.container, Prefix: ref.key, Folders: []folderEntry{}, Objects: []objectEntry{}}
	for _, p := range page.Prefixes {
		out.Folders = append(out.Folders, folderEntry{Name: strings.TrimPrefix(p, ref.key), URI: ObjectURI(ref.container, p)})
	}
	for _, o := range page.Objects {
		if o.Key == ref.key {
			continue // a "folder marker" object: its URI is this folder's
		}
		out.Objects = append(out.Objects, objectEntry{Name: strings.TrimPrefix(o.Key, ref.key), Key: o.Key,
			URI: ObjectURI(ref.container, o.Key), Size: o.Size, ContentType: o.HTTP.ContentType,
			Modified: rfc3339(o.Uploaded), ETag: o.ETag})
	}
	if page.Cursor != "" {
		out.Next = withCursor(ref.folderURI(ref.container), page.Cursor)
	}
	if ref.key != "" && ref.cursor == "" && len(page.Prefixes) == 0 && len(page.Objects) == 0 {
		return nil, emptyFolder(ref)
	}
	return listingContents(uri, out)
}

func (r *Resources) readNamespaceFolder(ctx context.Context, uri string, ref ref) ([]mcp.ResourceContents, error) {
	ns, err := r.store.Namespace(ctx, ref.container)
	if err != nil {
		return nil, err
	}
	if ns.Title == "" { // resolved from an id without a lookup
		if full, err := r.store.KV().GetNamespace(ctx, ns.ID); err == nil {
			ns = full
		}
	}
	page, err := r.store.KV().List(ctx, ns.ID, storage.ListOptions{Prefix: ref.key, Cursor: ref.cursor,
		Limit: min(max(r.pageSize, storage.MinKVListLimit), storage.MaxKVListLimit)})
	if err != nil {
		return nil, err
	}
	out := namespaceListing{URI: uri, Namespace: ns, Prefix: ref.key, Keys: []keyEntry{}}
	for _, k := range page.Keys {
		out.Keys = append(out.Keys, keyEntry{Name: strings.TrimPrefix(k.Name, ref.key), Key: k.Name, URI: KeyURI(ns.ID, k.Name),
			Expiration: k.Expiration, Metadata: k.Metadata})
	}
	if page.Cursor != "" {
		out.Next = withCursor(KeyURI(ns.ID, ref.key), page.Cursor)
	}
	if ref.key != "" && ref.cursor == "" && len(page.Keys) == 0 {
		return nil, emptyFolder(ref)
	}
	return listingContents(uri, out)
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// guessType names the type of an object stored without one: from the key's
// extension, else from its first bytes.
func guessType(key string, head []byte) string {
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(key))); t != "" {
		return t
	}
	return http.DetectContentType(head)
}

// isText reports whether a MIME type is text a model can read inline; the
// same rule as r2_download.
func isText(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/xml" ||
		mt == "application/javascript" || mt == "image/svg+xml" || strings.HasSuffix(mt, "+json") ||
		strings.HasSuffix(mt, "+xml") || mt == "application/toml" || mt == "application/yaml"
}

// looksLikeJSON reports whether a KV value is a JSON object or array, worth
// announcing as application/json.
func looksLikeJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}
