package cf

import (
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/cf/cffake"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage/storagetest"
)

// TestBehaviour runs the behaviour suite every backend passes against the
// Cloudflare backend, wired to cffake for the REST API and to an in-process
// S3 server for object data.
//
// On Cloudflare the two APIs share one set of buckets. The fakes are two
// programs, so cffake's bucket hooks join them as R2 does: a bucket created
// over REST exists in S3, a bucket deleted over REST is gone from S3, and
// REST refuses to delete a bucket that S3 holds objects in. The backend is
// used as it is in production, with nothing of its own to bridge them.
//
// D1 runs against cffake's D1 databases (in-memory SQLite behind the D1
// REST endpoints), batches included.
func TestBehaviour(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend {
		return newFakeCloudflare(t).backend(t, nil)
	})
}

// fakeCloudflare is a Cloudflare account in the test process: the REST API
// (cffake) and R2's S3 API (gofakes3, see s3_test.go), sharing buckets.
type fakeCloudflare struct {
	api *cffake.Server
	s3  *fakeS3
}

func newFakeCloudflare(t testing.TB, opts ...cffake.Option) *fakeCloudflare {
	t.Helper()
	s3 := newFakeS3(t, false)
	hooks := cffake.BucketHooks{
		Created: func(b cffake.BucketRef) error { return s3.backend.CreateBucket(b.Name) },
		Deleted: func(b cffake.BucketRef) error { return s3.backend.DeleteBucket(b.Name) },
		ObjectCount: func(b cffake.BucketRef) (int, error) {
			list, err := s3.backend.ListBucket(b.Name, nil, gofakes3.ListBucketPage{MaxKeys: 1})
			if err != nil {
				return 0, err
			}
			return len(list.Contents), nil
		},
	}
	api := cffake.Start(t, append([]cffake.Option{cffake.WithBucketHooks(hooks)}, opts...)...)
	return &fakeCloudflare{api: api, s3: s3}
}

// backend is a Backend on the fakes with the default token; mutate may
// change its Config first.
func (f *fakeCloudflare) backend(t testing.TB, mutate func(*Config)) *Backend {
	t.Helper()
	cfg := Config{
		APIToken:   cffake.DefaultToken,
		BaseURL:    f.api.BaseURL(),
		R2Endpoint: f.s3.srv.URL,
		Retry:      RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return b
}
