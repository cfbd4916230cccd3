package storage

import (
	"context"
	"encoding/json"
	"io"
	"time"
)

// Backend is one place the storage primitives live: the embedded store, a
// Cloudflare account, and later others. Nothing above this package may assume
// which one it is talking to.
type Backend interface {
	// Name is the backend's short name ("local", "cloudflare", "wrangler").
	Name() string
	KV() KV
	R2() R2
	D1() D1
	// Describe reports what the backend is connected to, for whoami,
	// without waiting on the network longer than a short probe: a backend
	// that cannot reach its service says so in the Description rather than
	// failing. It never includes a secret.
	Describe(ctx context.Context) (Description, error)
	// Close releases what the backend opened. It is safe to call once the
	// backend is no longer used, whether or not it was ever used.
	Close() error
}

// Description is what a backend says about itself.
type Description struct {
	Backend     string `json:"backend"`
	AccountID   string `json:"account_id,omitempty"`
	TokenStatus string `json:"token_status,omitempty"`
	DataDir     string `json:"data_dir,omitempty"`
	// APIReachable is whether the service's API answered the probe
	// Describe made; nil for a backend that needs no network. APIError
	// says why it did not answer, or refused, and what to change.
	APIReachable *bool  `json:"api_reachable,omitempty"`
	APIError     string `json:"api_error,omitempty"`
	// Wrangler is what the wrangler backend works on; nil for the others.
	Wrangler *WranglerDescription `json:"wrangler,omitempty"`
}

// WranglerDescription says which Worker project the wrangler backend serves
// and how it reaches the project's state.
type WranglerDescription struct {
	Config string `json:"config" jsonschema:"the wrangler config whose bindings are served"`
	Env    string `json:"env,omitempty" jsonschema:"the environment (--wrangler-env) whose bindings are served"`
	// Path is "explorer" while wrangler dev runs (its Local Explorer API at
	// URL), "files" when it does not (the persisted state in PersistDir).
	Path       string `json:"path" jsonschema:"explorer: through the Local Explorer API of the running wrangler dev; files: the persisted state, dev not running"`
	URL        string `json:"url" jsonschema:"where wrangler dev is expected"`
	PersistDir string `json:"persist_dir" jsonschema:"wrangler dev's --persist-to directory"`
	// Bindings name each bound namespace, bucket and database:
	// "KV CACHE (id)", "R2 ASSETS (bucket)", "D1 DB (id)".
	Bindings []string `json:"bindings" jsonschema:"the project's KV, R2 and D1 bindings, with the ids wrangler dev uses"`
}

// ListOptions pages through a listing. Cursor is opaque: pass back what the
// previous page returned. Limit 0 means the default of the operation.
type ListOptions struct {
	Prefix string
	Cursor string
	Limit  int
}

// BulkGetOptions bounds a bulk read.
type BulkGetOptions struct {
	// MaxBytes, when positive, caps the sum of the values' sizes: a read
	// that would return more fails with ErrBulkGetTooLarge. A backend that
	// knows the sizes first (local) fails before reading any value; one that
	// does not (Cloudflare answers with every value at once) fails after.
	MaxBytes int64
}

// ErrBulkGetTooLarge is the error of a bulk read whose values add up to
// more than max bytes.
func ErrBulkGetTooLarge(max int64) error {
	return Errorf(CodeTooLarge, "keys: the values add up to more than the inline limit of %d bytes (--max-inline-bytes); ask for fewer keys, or read a large value alone with kv_get and save_to", max)
}

// KV is Workers KV: namespaces of keys with values, metadata and expiration.
// Namespaces are addressed by id; Store.Namespace resolves titles.
type KV interface {
	ListNamespaces(ctx context.Context, opts ListOptions) (NamespacePage, error)
	GetNamespace(ctx context.Context, id string) (Namespace, error)
	CreateNamespace(ctx context.Context, title string) (Namespace, error)
	RenameNamespace(ctx context.Context, id, title string) error
	DeleteNamespace(ctx context.Context, id string) error

	// Get returns the value of key; ErrNotFound when it is absent or expired.
	// The caller closes Body.
	Get(ctx context.Context, namespaceID, key string) (*KVValue, error)
	// Put reads exactly Size bytes from Body and stores them atomically.
	Put(ctx context.Context, namespaceID string, put KVPut) error
	// Delete removes key; deleting an absent key is not an error.
	Delete(ctx context.Context, namespaceID, key string) error
	// List returns keys in byte order of their UTF-8 names.
	List(ctx context.Context, namespaceID string, opts ListOptions) (KeyPage, error)
	BulkPut(ctx context.Context, namespaceID string, entries []KVEntry) (BulkPutResult, error)
	// BulkGet returns one item per requested key, in the order asked. The
	// values are returned whole, in memory, so opts.MaxBytes caps their sum.
	BulkGet(ctx context.Context, namespaceID string, keys []string, opts BulkGetOptions) ([]KVItem, error)
	BulkDelete(ctx context.Context, namespaceID string, keys []string) (int, error)
}

// Namespace is a KV namespace.
type Namespace struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// NamespacePage is one page of namespaces; Cursor is empty on the last page.
type NamespacePage struct {
	Namespaces []Namespace
	Cursor     string
}

// Expiry says when a KV value expires. At most one field is set; Expiration
// is absolute (Unix seconds), TTL relative to the write (seconds).
type Expiry struct {
	Expiration int64
	TTL        int64
}

// KVPut is one value to write.
type KVPut struct {
	Key      string
	Body     io.Reader
	Size     int64
	Metadata json.RawMessage // nil for none
	Expiry
}

// KVValue is a stored value. Expiration is 0 when it never expires.
type KVValue struct {
	Key        string
	Size       int64
	Metadata   json.RawMessage
	Expiration int64
	Body       io.ReadCloser
}

// KVEntry is one value of a bulk write.
type KVEntry struct {
	Key      string
	Value    []byte
	Metadata json.RawMessage
	Expiry
}

// BulkPutResult reports a bulk write. Failed names the keys not written.
type BulkPutResult struct {
	Written int
	Failed  []string
}

// KVItem is one answer of a bulk read.
type KVItem struct {
	Key        string
	Found      bool
	Value      []byte
	Metadata   json.RawMessage
	Expiration int64
}

// KeyInfo is one listed key.
type KeyInfo struct {
	Name       string
	Expiration int64
	Metadata   json.RawMessage
}

// KeyPage is one page of keys; Cursor is empty on the last page.
type KeyPage struct {
	Keys   []KeyInfo
	Cursor string
}

// R2 is R2 object storage: buckets of objects with HTTP and custom metadata.
type R2 interface {
	ListBuckets(ctx context.Context, opts ListOptions) (BucketPage, error)
	GetBucket(ctx context.Context, name string) (Bucket, error)
	CreateBucket(ctx context.Context, spec BucketSpec) (Bucket, error)
	// DeleteBucket fails with ErrConflict while the bucket holds objects.
	DeleteBucket(ctx context.Context, name string) error

	// ListObjects lists keys in byte order. With a Delimiter, keys sharing a
	// prefix up to the next delimiter are rolled up into Prefixes.
	ListObjects(ctx context.Context, bucket string, opts ObjectListOptions) (ObjectPage, error)
	HeadObject(ctx context.Context, bucket, key string) (ObjectInfo, error)
	// GetObject streams an object, or the inclusive byte range rng of it.
	// The caller closes Body.
	GetObject(ctx context.Context, bucket, key string, rng *ByteRange) (*Object, error)
	// PutObject reads exactly Size bytes from Body. A Body that is also an
	// io.ReaderAt may be read in concurrent sections.
	PutObject(ctx context.Context, put ObjectPut) (ObjectInfo, error)
	CopyObject(ctx context.Context, src, dst ObjectRef) (ObjectInfo, error)
	// DeleteObjects removes keys; absent keys count as deleted, as in S3.
	DeleteObjects(ctx context.Context, bucket string, keys []string) (DeleteResult, error)
	Presign(ctx context.Context, req PresignRequest) (PresignedURL, error)
}

// Bucket is an R2 bucket.
type Bucket struct {
	Name         string
	CreationDate time.Time
	Location     string
	StorageClass string
	Jurisdiction string
}

// BucketSpec describes a bucket to create. Empty fields take Cloudflare's
// defaults.
type BucketSpec struct {
	Name         string
	LocationHint string
	StorageClass string
	Jurisdiction string
}

// BucketPage is one page of buckets; Cursor is empty on the last page.
type BucketPage struct {
	Buckets []Bucket
	Cursor  string
}

// ObjectListOptions pages through a bucket.
type ObjectListOptions struct {
	Prefix    string
	Delimiter string
	Cursor    string
	Limit     int
}

// ObjectPage is one page of a bucket listing.
type ObjectPage struct {
	Objects  []ObjectInfo
	Prefixes []string
	Cursor   string
}

// HTTPMetadata is what R2 stores for HTTP responses of an object.
type HTTPMetadata struct {
	ContentType        string
	ContentLanguage    string
	ContentDisposition string
	ContentEncoding    string
	CacheControl       string
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key            string
	Size           int64
	ETag           string
	Uploaded       time.Time
	HTTP           HTTPMetadata
	CustomMetadata map[string]string
}

// ObjectRef names an object.
type ObjectRef struct {
	Bucket string
	Key    string
}

// ByteRange is an inclusive range of bytes; End < 0 means to the end.
type ByteRange struct {
	Start int64
	End   int64
}

// Span resolves the range, nil for all, against an object of size bytes:
// where it starts and how long it is. A start at or past the end is
// invalid_argument; an end past it is cut to it.
func (r *ByteRange) Span(size int64) (start, length int64, err error) {
	if r == nil {
		return 0, size, nil
	}
	if r.Start >= size {
		return 0, 0, Errorf(CodeInvalidArgument, "range_start: %d is beyond the object size %d", r.Start, size)
	}
	end := size - 1
	if r.End >= 0 {
		end = min(r.End, end)
	}
	return r.Start, end - r.Start + 1, nil
}

// Object is an object being read. Size is the full object size in Info;
// Length is how many bytes Body yields (less for a range).
type Object struct {
	Info   ObjectInfo
	Length int64
	Body   io.ReadCloser
}

// ObjectPut is an object to write.
type ObjectPut struct {
	Bucket         string
	Key            string
	Body           io.Reader
	Size           int64
	HTTP           HTTPMetadata
	CustomMetadata map[string]string
	// Progress, when set, is called with the bytes sent so far.
	Progress func(sent int64)
}

// DeleteResult reports a multi-object delete.
type DeleteResult struct {
	Deleted []string
	Errors  []DeleteError
}

// DeleteError is a key that could not be deleted.
type DeleteError struct {
	Key     string `json:"key"`
	Message string `json:"message"`
}

// PresignRequest asks for a URL that grants Method on one object until it
// expires.
type PresignRequest struct {
	Bucket  string
	Key     string
	Method  string // GET or PUT
	Expires time.Duration
}

// PresignedURL is a signed URL and when it stops working.
type PresignedURL struct {
	URL       string
	ExpiresAt time.Time
}
