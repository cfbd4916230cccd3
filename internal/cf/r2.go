package cf

import (
	"context"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// r2Store is R2 as one storage.R2: buckets over the REST API (buckets.go),
// objects over the S3 API (s3.go). The S3 client is made by the first
// object call, which may first have to learn the account and derive the S3
// credentials from the API token.
type r2Store struct {
	bucketStore
}

var _ storage.R2 = (*r2Store)(nil)

func (r *r2Store) ListObjects(ctx context.Context, bucket string, opts storage.ObjectListOptions) (storage.ObjectPage, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.ObjectPage{}, err
	}
	return o.ListObjects(ctx, bucket, opts)
}

func (r *r2Store) HeadObject(ctx context.Context, bucket, key string) (storage.ObjectInfo, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return o.HeadObject(ctx, bucket, key)
}

func (r *r2Store) GetObject(ctx context.Context, bucket, key string, rng *storage.ByteRange) (*storage.Object, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return nil, err
	}
	return o.GetObject(ctx, bucket, key, rng)
}

func (r *r2Store) PutObject(ctx context.Context, put storage.ObjectPut) (storage.ObjectInfo, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return o.PutObject(ctx, put)
}

func (r *r2Store) CopyObject(ctx context.Context, src, dst storage.ObjectRef) (storage.ObjectInfo, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return o.CopyObject(ctx, src, dst)
}

func (r *r2Store) DeleteObjects(ctx context.Context, bucket string, keys []string) (storage.DeleteResult, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.DeleteResult{}, err
	}
	return o.DeleteObjects(ctx, bucket, keys)
}

func (r *r2Store) Presign(ctx context.Context, req storage.PresignRequest) (storage.PresignedURL, error) {
	o, err := r.b.objects(ctx)
	if err != nil {
		return storage.PresignedURL{}, err
	}
	return o.Presign(ctx, req)
}
