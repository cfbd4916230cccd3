package cf

import (
	"cmp"
	"context"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/r2"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// bucketStore is the bucket half of R2, over the REST API (the S3 API can
// neither set a location hint nor a storage class).
//
// Buckets live in a jurisdiction (default, eu, fedramp), and R2 shows each
// jurisdiction's buckets apart: the REST API by the cf-r2-jurisdiction
// header, the S3 API by its endpoint. A backend works in one jurisdiction,
// the one of its S3 endpoint, so that every bucket it lists can hold
// objects through it.
type bucketStore struct{ b *Backend }

func (s *bucketStore) api() *r2.BucketService { return s.b.rest.buckets }

// jurisdiction is the cf-r2-jurisdiction header of the backend's calls;
// none for the default jurisdiction.
func (s *bucketStore) jurisdiction() string {
	if j := s.b.cfg.Jurisdiction; j != "default" {
		return j
	}
	return ""
}

// ListBuckets lists in name order. A prefix is sent as name_contains, the
// only filter the API has, and applied here: the names that merely contain
// it are dropped, and since names that start with a prefix sort together,
// the listing ends at the first name past them.
func (s *bucketStore) ListBuckets(ctx context.Context, opts storage.ListOptions) (storage.BucketPage, error) {
	c := call{op: "listing buckets", area: areaR2}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.BucketPage{}, err
	}
	limit := storage.PageSize(opts.Limit, storage.DefaultBucketList, storage.MaxBucketList)
	out := storage.BucketPage{Buckets: []storage.Bucket{}}
	cursor := opts.Cursor
	for {
		var p r2.BucketListParams
		p.AccountID.Value, p.AccountID.Present = acct, true
		p.PerPage.Value, p.PerPage.Present = float64(limit), true
		p.Order.Value, p.Order.Present = r2.BucketListParamsOrderName, true
		p.Direction.Value, p.Direction.Present = r2.BucketListParamsDirectionAsc, true
		if opts.Prefix != "" {
			p.NameContains.Value, p.NameContains.Present = opts.Prefix, true
		}
		if cursor != "" {
			p.Cursor.Value, p.Cursor.Present = cursor, true
		}
		if j := s.jurisdiction(); j != "" {
			p.Jurisdiction.Value, p.Jurisdiction.Present = r2.BucketListParamsCfR2Jurisdiction(j), true
		}
		// The SDK returns the result without result_info, which holds the
		// cursor: the whole envelope is read instead.
		var env r2.BucketListResponseEnvelope
		if _, err := s.api().List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
			return storage.BucketPage{}, c.fail(ctx, err)
		}
		for _, b := range env.Result.Buckets {
			switch {
			case strings.HasPrefix(b.Name, opts.Prefix):
				out.Buckets = append(out.Buckets, s.bucket(b))
			case b.Name > opts.Prefix:
				return out, nil // past every name with the prefix
			}
		}
		next := env.ResultInfo.Cursor
		switch {
		case next == "":
			return out, nil
		case len(out.Buckets) > 0:
			out.Cursor = next
			return out, nil
		case next == cursor:
			return storage.BucketPage{}, storage.Errorf(storage.CodeInternal, "cloudflare: %s: the API returned the cursor it was given", c.op)
		}
		// A page of names that only contain the prefix: read on rather
		// than answer an empty page.
		cursor = next
	}
}

func (s *bucketStore) GetBucket(ctx context.Context, name string) (storage.Bucket, error) {
	c := call{op: "reading bucket", area: areaR2, bucket: name}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.Bucket{}, err
	}
	var p r2.BucketGetParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	if j := s.jurisdiction(); j != "" {
		p.Jurisdiction.Value, p.Jurisdiction.Present = r2.BucketGetParamsCfR2Jurisdiction(j), true
	}
	res, err := s.api().Get(ctx, seg(name), p)
	if err != nil {
		return storage.Bucket{}, c.fail(ctx, err)
	}
	return s.bucket(*res), nil
}

// CreateBucket creates a bucket in the backend's jurisdiction (with none
// asked for, or the same). A bucket asked for in another one is refused: this backend could not reach its objects
// (R2 serves each jurisdiction's objects at its own S3 endpoint).
func (s *bucketStore) CreateBucket(ctx context.Context, spec storage.BucketSpec) (storage.Bucket, error) {
	c := call{op: "creating bucket", area: areaR2, write: true, bucket: spec.Name}
	// No jurisdiction asked for means the backend's own.
	if want, have := orDefault(cmp.Or(spec.Jurisdiction, s.b.cfg.Jurisdiction)), orDefault(s.b.cfg.Jurisdiction); want != have {
		return storage.Bucket{}, storage.Errorf(storage.CodeInvalidArgument,
			"jurisdiction: this server reaches R2 in the %s jurisdiction only, so a bucket in %s could not be used from it; start a server with --r2-jurisdiction %s for that", have, want, want)
	}
	acct, err := s.b.account(ctx)
	if err != nil {
		return storage.Bucket{}, err
	}
	var p r2.BucketNewParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	p.Name.Value, p.Name.Present = spec.Name, true
	if spec.LocationHint != "" {
		p.LocationHint.Value, p.LocationHint.Present = r2.BucketNewParamsLocationHint(spec.LocationHint), true
	}
	if spec.StorageClass != "" {
		p.StorageClass.Value, p.StorageClass.Present = r2.BucketNewParamsStorageClass(spec.StorageClass), true
	}
	if j := s.jurisdiction(); j != "" {
		p.Jurisdiction.Value, p.Jurisdiction.Present = r2.BucketNewParamsCfR2Jurisdiction(j), true
	}
	res, err := s.api().New(ctx, p)
	if err != nil {
		return storage.Bucket{}, c.fail(ctx, err)
	}
	b := s.bucket(*res)
	if b.CreationDate.IsZero() {
		// An answer without the bucket's details: ask for them.
		return s.GetBucket(ctx, spec.Name)
	}
	return b, nil
}

// DeleteBucket deletes an empty bucket; R2 refuses a bucket that holds
// objects (409, code 10008), which is reported as a conflict.
func (s *bucketStore) DeleteBucket(ctx context.Context, name string) error {
	c := call{op: "deleting bucket", area: areaR2, write: true, bucket: name}
	acct, err := s.b.account(ctx)
	if err != nil {
		return err
	}
	var p r2.BucketDeleteParams
	p.AccountID.Value, p.AccountID.Present = acct, true
	if j := s.jurisdiction(); j != "" {
		p.Jurisdiction.Value, p.Jurisdiction.Present = r2.BucketDeleteParamsCfR2Jurisdiction(j), true
	}
	dctx, tries := withAttempts(ctx)
	_, err = s.api().Delete(dctx, seg(name), p)
	return c.failDelete(ctx, tries, err)
}

// bucket converts the API's bucket. Locations come in either case ("weur",
// "WEUR"): lower case, like the hints they come from. A bucket created
// without a storage class or jurisdiction has R2's defaults.
func (s *bucketStore) bucket(b r2.Bucket) storage.Bucket {
	created, _ := time.Parse(time.RFC3339Nano, b.CreationDate) // zero when absent
	return storage.Bucket{
		Name:         b.Name,
		CreationDate: created.UTC(),
		Location:     strings.ToLower(string(b.Location)),
		StorageClass: cmp.Or(string(b.StorageClass), "Standard"),
		Jurisdiction: orDefault(cmp.Or(string(b.Jurisdiction), s.b.cfg.Jurisdiction)),
	}
}

func orDefault(jurisdiction string) string { return cmp.Or(jurisdiction, "default") }
