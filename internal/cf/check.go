package cf

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Finding is one result of Check: what was tried, whether it worked, and
// what to change when it did not.
type Finding struct {
	Name   string
	OK     bool
	Detail string
	Fix    string
}

// Check tries, in order, everything the backend depends on: the API token,
// the account, Workers KV, D1, R2 over REST and R2 over S3. A step that fails
// does not stop the others unless they need what it would have provided.
// The areas in off (left out by --toolsets) are not tried: a token made for
// KV alone passes when the server serves KV alone.
func (b *Backend) Check(ctx context.Context, off ...storage.Area) []Finding {
	var out []Finding
	add := func(name string, err error, ok, fix string) bool {
		f := Finding{Name: name, OK: err == nil, Detail: ok}
		if err != nil {
			f.Detail, f.Fix = storage.Describe(err), fix
		}
		out = append(out, f)
		return err == nil
	}
	serves := func(a storage.Area) bool { return !slices.Contains(off, a) }

	tok, err := b.verifyToken(ctx, b.cfg.AccountID)
	if err == nil && tok.Status != "active" {
		err = storage.Errorf(storage.CodePermissionDenied, "the API token is %s", tok.Status)
	}
	add("API token", err, "active (token id "+tok.ID+")",
		"create an API token at dash.cloudflare.com/profile/api-tokens and set CLOUDFLARE_API_TOKEN")

	account, err := b.account(ctx)
	if !add("account", err, account,
		"set CLOUDFLARE_ACCOUNT_ID, or give the token Account Settings:Read so the account can be found") {
		return out
	}

	if serves(storage.AreaKV) {
		ns, err := b.kv.ListNamespaces(ctx, storage.ListOptions{Limit: storage.MaxNamespaceList})
		add("Workers KV", err, fmt.Sprintf("%d namespaces visible on the first page", len(ns.Namespaces)),
			"give the token Workers KV Storage:Edit (or :Read for --read-only)")
	}

	if serves(storage.AreaD1) {
		dbs, err := b.d1.ListDatabases(ctx, storage.ListOptions{})
		add("D1", err, fmt.Sprintf("%d databases visible on the first page", len(dbs.Databases)),
			"give the token D1:Edit (or :Read for --read-only)")
	}

	if !serves(storage.AreaR2) {
		return out
	}
	buckets, err := b.r2.ListBuckets(ctx, storage.ListOptions{Limit: storage.MaxBucketList})
	add("R2 buckets (REST)", err, fmt.Sprintf("%d buckets visible on the first page", len(buckets.Buckets)),
		"give the token Workers R2 Storage:Edit (or :Read for --read-only)")

	objs, err := b.objects(ctx)
	if err == nil {
		if os, ok := objs.(*objectStore); ok {
			_, err = os.client.ListBuckets(ctx, &s3.ListBucketsInput{})
			if err != nil {
				err = s3Err("listing buckets over S3", "", "", err)
			}
		}
	}
	add("R2 objects (S3)", err, "S3 credentials accepted by "+b.s3EndpointForCheck(account),
		"set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (an R2 API token), or give the API token R2 access so S3 credentials can be derived from it")
	return out
}

func (b *Backend) s3EndpointForCheck(account string) string {
	ep, err := s3Endpoint(account, b.cfg.Jurisdiction, b.cfg.R2Endpoint)
	if err != nil {
		return "the S3 endpoint"
	}
	return redactURL(ep)
}
