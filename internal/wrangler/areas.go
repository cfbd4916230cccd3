package wrangler

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// page cuts a sorted listing after the cursor (the last name of the previous
// page, base64url so that it stays opaque).
func page[T any](all []T, name func(T) string, opts storage.ListOptions, def int) ([]T, string, error) {
	after := ""
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil {
			return nil, "", storage.Errorf(storage.CodeInvalidArgument, "cursor: %q is not a cursor of this listing; pass the cursor the previous page returned", opts.Cursor)
		}
		after = string(b)
	}
	slices.SortFunc(all, func(a, b T) int { return strings.Compare(name(a), name(b)) })
	out := []T{}
	for _, v := range all {
		if n := name(v); strings.HasPrefix(n, opts.Prefix) && n > after {
			out = append(out, v)
		}
	}
	limit := opts.Limit
	if limit <= 0 {
		limit = def
	}
	if len(out) > limit {
		return out[:limit:limit], base64.RawURLEncoding.EncodeToString([]byte(name(out[limit-1]))), nil
	}
	return out, "", nil
}

type kvBackend struct{ b *Backend }

func (k kvBackend) namespace(bd KVBinding) storage.Namespace {
	return storage.Namespace{ID: kvID(bd), Title: bd.Binding}
}

func (k kvBackend) ListNamespaces(_ context.Context, opts storage.ListOptions) (storage.NamespacePage, error) {
	all := make([]storage.Namespace, 0, len(k.b.p.KV))
	for _, bd := range k.b.p.KV {
		all = append(all, k.namespace(bd))
	}
	out, cursor, err := page(all, func(n storage.Namespace) string { return n.Title }, opts, storage.DefaultNamespaceList)
	return storage.NamespacePage{Namespaces: out, Cursor: cursor}, err
}

func (k kvBackend) GetNamespace(_ context.Context, id string) (storage.Namespace, error) {
	bd, err := k.b.kvBinding(id)
	if err != nil {
		return storage.Namespace{}, err
	}
	return k.namespace(bd), nil
}

func (k kvBackend) CreateNamespace(_ context.Context, title string) (storage.Namespace, error) {
	binding := storage.BindingName(title, "KV")
	return storage.Namespace{}, k.b.unsupportedCreate("KV namespaces", k.b.block(storage.KVBindingTOML(binding, ""), storage.KVBindingJSON(binding, "")))
}

func (k kvBackend) RenameNamespace(_ context.Context, id, _ string) error {
	bd, err := k.b.kvBinding(id)
	if err != nil {
		return err
	}
	return storage.Errorf(storage.CodeUnsupported, "a KV namespace of wrangler dev is titled by its binding name: rename the binding %s in %s (and in the Worker's code)", bd.Binding, k.b.p.ConfigPath)
}

func (k kvBackend) DeleteNamespace(_ context.Context, id string) error {
	return k.b.RefuseDelete(storage.AreaKV, id)
}

// data resolves a namespace reference and routes the call.
func (k kvBackend) data(ctx context.Context, ref string) (KVData, string, error) {
	bd, err := k.b.kvBinding(ref)
	if err != nil {
		return nil, "", err
	}
	p, err := k.b.route(ctx)
	if err != nil {
		return nil, "", err
	}
	return p.kv, bd.DevID(), nil
}

func (k kvBackend) Get(ctx context.Context, ns, key string) (*storage.KVValue, error) {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return nil, err
	}
	v, err := d.Get(ctx, id, key)
	return v, k.b.gone(err)
}

func (k kvBackend) Put(ctx context.Context, ns string, put storage.KVPut) error {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return err
	}
	return k.b.gone(d.Put(ctx, id, put))
}

func (k kvBackend) Delete(ctx context.Context, ns, key string) error {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return err
	}
	return k.b.gone(d.Delete(ctx, id, key))
}

func (k kvBackend) List(ctx context.Context, ns string, opts storage.ListOptions) (storage.KeyPage, error) {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return storage.KeyPage{}, err
	}
	p, err := d.List(ctx, id, opts)
	return p, k.b.gone(err)
}

func (k kvBackend) BulkPut(ctx context.Context, ns string, entries []storage.KVEntry) (storage.BulkPutResult, error) {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return storage.BulkPutResult{}, err
	}
	r, err := d.BulkPut(ctx, id, entries)
	return r, k.b.gone(err)
}

func (k kvBackend) BulkGet(ctx context.Context, ns string, keys []string, opts storage.BulkGetOptions) ([]storage.KVItem, error) {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return nil, err
	}
	r, err := d.BulkGet(ctx, id, keys, opts)
	return r, k.b.gone(err)
}

func (k kvBackend) BulkDelete(ctx context.Context, ns string, keys []string) (int, error) {
	d, id, err := k.data(ctx, ns)
	if err != nil {
		return 0, err
	}
	n, err := d.BulkDelete(ctx, id, keys)
	return n, k.b.gone(err)
}

type r2Backend struct{ b *Backend }

func bucketOf(bd R2Binding) storage.Bucket {
	return storage.Bucket{Name: bd.DevName(), Jurisdiction: bd.Jurisdiction}
}

func (r r2Backend) ListBuckets(_ context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	all := make([]storage.Bucket, 0, len(r.b.p.R2))
	for _, bd := range r.b.p.R2 {
		all = append(all, bucketOf(bd))
	}
	out, cursor, err := page(all, func(b storage.Bucket) string { return b.Name }, opts, storage.DefaultBucketList)
	return storage.BucketPage{Buckets: out, Cursor: cursor}, err
}

func (r r2Backend) GetBucket(_ context.Context, name string) (storage.Bucket, error) {
	bd, err := r.b.r2Binding(name)
	if err != nil {
		return storage.Bucket{}, err
	}
	return bucketOf(bd), nil
}

func (r r2Backend) CreateBucket(_ context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	binding := storage.BindingName(spec.Name, "BUCKET")
	b := storage.Bucket{Name: spec.Name, Jurisdiction: spec.Jurisdiction}
	return storage.Bucket{}, r.b.unsupportedCreate("R2 buckets", r.b.block(storage.R2BindingTOML(binding, b), storage.R2BindingJSON(binding, b)))
}

func (r r2Backend) DeleteBucket(_ context.Context, name string) error {
	return r.b.RefuseDelete(storage.AreaR2, name)
}

func (r r2Backend) Presign(context.Context, storage.PresignRequest) (storage.PresignedURL, error) {
	return storage.PresignedURL{}, ErrPresign()
}

// ErrPresign is the answer to a presign: wrangler dev has no S3 endpoint
// that would take a signed URL.
func ErrPresign() error {
	return storage.Errorf(storage.CodeUnsupported,
		"wrangler dev serves no presigned URLs (they need the cloudflare backend and a real bucket): read and write the object with r2_download and r2_upload, or through the Worker")
}

func (r r2Backend) data(ctx context.Context, ref string) (R2Data, string, error) {
	bd, err := r.b.r2Binding(ref)
	if err != nil {
		return nil, "", err
	}
	p, err := r.b.route(ctx)
	if err != nil {
		return nil, "", err
	}
	return p.r2, bd.DevName(), nil
}

func (r r2Backend) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	d, name, err := r.data(ctx, bucket)
	if err != nil {
		return storage.ObjectPage{}, err
	}
	p, err := d.ListObjects(ctx, name, opts)
	return p, r.b.gone(err)
}

func (r r2Backend) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	d, name, err := r.data(ctx, bucket)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info, err := d.HeadObject(ctx, name, key)
	return info, r.b.gone(err)
}

func (r r2Backend) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	d, name, err := r.data(ctx, bucket)
	if err != nil {
		return nil, err
	}
	o, err := d.GetObject(ctx, name, key, rng)
	return o, r.b.gone(err)
}

func (r r2Backend) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	d, name, err := r.data(ctx, put.Bucket)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	put.Bucket = name
	info, err := d.PutObject(ctx, put)
	return info, r.b.gone(err)
}

func (r r2Backend) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	sb, err := r.b.r2Binding(src.Bucket)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	d, name, err := r.data(ctx, dst.Bucket)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	src.Bucket, dst.Bucket = sb.DevName(), name
	info, err := d.CopyObject(ctx, src, dst)
	return info, r.b.gone(err)
}

func (r r2Backend) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	d, name, err := r.data(ctx, bucket)
	if err != nil {
		return storage.DeleteResult{}, err
	}
	res, err := d.DeleteObjects(ctx, name, keys)
	return res, r.b.gone(err)
}

type d1Backend struct{ b *Backend }

// databaseOf names a database by its database_name, else by its binding
// name in lower case: D1's name rule (lower-case letters, digits, - and _),
// which the tools apply to every name they are given, refuses a binding name
// such as "DB". The binding name itself still resolves through the id.
func databaseOf(bd D1Binding) storage.Database {
	name := bd.DatabaseName
	if name == "" || storage.ValidateDatabaseName(name) != nil {
		name = strings.ToLower(bd.Binding)
	}
	return storage.Database{ID: d1ID(bd), Name: name}
}

func (d d1Backend) ListDatabases(_ context.Context, opts storage.ListOptions) (storage.DatabasePage, error) {
	all := make([]storage.Database, 0, len(d.b.p.D1))
	for _, bd := range d.b.p.D1 {
		all = append(all, databaseOf(bd))
	}
	out, cursor, err := page(all, func(db storage.Database) string { return db.Name }, opts, storage.DefaultDatabaseList)
	return storage.DatabasePage{Databases: out, Cursor: cursor}, err
}

func (d d1Backend) GetDatabase(_ context.Context, id string) (storage.Database, error) {
	bd, err := d.b.d1Binding(id)
	if err != nil {
		return storage.Database{}, err
	}
	return databaseOf(bd), nil
}

func (d d1Backend) CreateDatabase(_ context.Context, spec storage.DatabaseSpec) (storage.Database, error) {
	binding := storage.BindingName(spec.Name, "DB")
	db := storage.Database{Name: spec.Name}
	return storage.Database{}, d.b.unsupportedCreate("D1 databases", d.b.block(storage.D1BindingTOML(binding, db), storage.D1BindingJSON(binding, db)))
}

func (d d1Backend) DeleteDatabase(_ context.Context, id string) error {
	return d.b.RefuseDelete(storage.AreaD1, id)
}

func (d d1Backend) Query(ctx context.Context, id string, stmts []storage.Statement, opts storage.QueryOptions) ([]storage.QueryResult, error) {
	bd, err := d.b.d1Binding(id)
	if err != nil {
		return nil, err
	}
	p, err := d.b.route(ctx)
	if err != nil {
		return nil, err
	}
	res, err := p.d1.Query(ctx, bd.DevID(), stmts, opts)
	return res, d.b.gone(err)
}
