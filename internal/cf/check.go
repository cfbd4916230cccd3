package cf

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// Finding is one result of Check: what was tried, whether it worked, and
// what to change when it did not. A finding that was not tried (what it
// needs failed first) is Skipped, and says why in Detail: it is never OK.
type Finding struct {
	Name    string
	OK      bool
	Skipped bool
	Detail  string
	Fix     string
}

// The names of Check's findings.
const (
	checkAPI       = "Cloudflare API"
	checkToken     = "API token"
	checkAccount   = "account"
	checkKV        = "Workers KV"
	checkD1        = "D1"
	checkR2REST    = "R2 buckets (REST)"
	checkR2Objects = "R2 objects (S3)"
)

// Check tries, in order, everything the backend depends on: the API token,
// the account, Workers KV, D1, R2 over REST and R2 over S3. A step that fails
// does not stop the others unless they need what it would have provided;
// those are reported as skipped, with the reason. When the API cannot be
// reached at all, that is the one failure, with its cause (DNS, refused
// connection, TLS, proxy) and fix, and everything else is skipped: a token
// is not "invalid" because the network is down. The account counts as
// verified only when a call in it succeeded (or it was found by listing
// the token's accounts). The areas in off (left out by --toolsets) are not
// tried: a token made for KV alone passes when the server serves KV alone.
func (b *Backend) Check(ctx context.Context, off ...storage.Area) []Finding {
	var out []Finding
	// add records a step; an error that is the API being out of reach
	// names its own cause and fix, whatever step met it.
	add := func(name string, err error, ok, fix string) bool {
		f := Finding{Name: name, OK: err == nil, Detail: ok}
		if err != nil {
			f.Detail, f.Fix = storage.Describe(err), fix
			if c, unreachable := classifyNet(err); unreachable {
				f.Fix = c.fix
			}
		}
		out = append(out, f)
		return err == nil
	}
	skip := func(why string, names ...string) []Finding {
		for _, n := range names {
			out = append(out, Finding{Name: n, Skipped: true, Detail: "not checked: " + why})
		}
		return out
	}
	serves := func(a storage.Area) bool { return !slices.Contains(off, a) }
	var areas []string
	if serves(storage.AreaKV) {
		areas = append(areas, checkKV)
	}
	if serves(storage.AreaD1) {
		areas = append(areas, checkD1)
	}
	if serves(storage.AreaR2) {
		areas = append(areas, checkR2REST, checkR2Objects)
	}

	tok, err := b.verifyToken(ctx, b.cfg.AccountID)
	if c, unreachable := classifyNet(err); unreachable {
		out = append(out, Finding{Name: checkAPI, Detail: c.what, Fix: c.fix})
		return skip("the Cloudflare API cannot be reached", append([]string{checkToken, checkAccount}, areas...)...)
	}
	if err == nil && tok.Status != "active" {
		add(checkToken, storage.Errorf(storage.CodePermissionDenied, "the API token is %s", tok.Status), "",
			"create an API token at dash.cloudflare.com/profile/api-tokens and set CLOUDFLARE_API_TOKEN")
		return skip("the API token is "+tok.Status, append([]string{checkAccount}, areas...)...)
	}
	add(checkToken, err, "active (token id "+tok.ID+")",
		"create an API token at dash.cloudflare.com/profile/api-tokens and set CLOUDFLARE_API_TOKEN")

	account, err := b.account(ctx)
	if !add(checkAccount, err, account,
		"set CLOUDFLARE_ACCOUNT_ID, or give the token Account Settings:Read so the account can be found") {
		return skip("needs the account", areas...)
	}
	acct := len(out) - 1
	// An account found by listing the token's accounts exists; one that
	// was configured is verified by the first call in it that succeeds.
	verified := b.cfg.AccountID == ""
	try := func(name string, err error, ok, fix string) {
		if add(name, err, ok, fix) {
			verified = true
		}
	}

	if serves(storage.AreaKV) {
		ns, err := b.kv.ListNamespaces(ctx, storage.ListOptions{Limit: storage.MaxNamespaceList})
		try(checkKV, err, fmt.Sprintf("%d namespaces visible on the first page", len(ns.Namespaces)),
			"give the token Workers KV Storage:Edit (or :Read for --read-only)")
	}

	if serves(storage.AreaD1) {
		dbs, err := b.d1.ListDatabases(ctx, storage.ListOptions{})
		try(checkD1, err, fmt.Sprintf("%d databases visible on the first page", len(dbs.Databases)),
			"give the token D1:Edit (or :Read for --read-only)")
	}

	if serves(storage.AreaR2) {
		buckets, err := b.r2.ListBuckets(ctx, storage.ListOptions{Limit: storage.MaxBucketList})
		try(checkR2REST, err, fmt.Sprintf("%d buckets visible on the first page", len(buckets.Buckets)),
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
		add(checkR2Objects, err, "S3 credentials accepted by "+b.s3EndpointForCheck(account),
			"set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (an R2 API token), or give the API token R2 access so S3 credentials can be derived from it")
	}

	switch {
	case !verified && len(areas) == 0:
		out[acct] = Finding{Name: checkAccount, Skipped: true,
			Detail: "not checked: " + account + " is CLOUDFLARE_ACCOUNT_ID, and no storage area is served (--toolsets) to try it with"}
	case !verified:
		out[acct] = Finding{Name: checkAccount, Detail: account + " is CLOUDFLARE_ACCOUNT_ID, but no call in it succeeded",
			Fix: "check CLOUDFLARE_ACCOUNT_ID (the 32-hex-digit id on the dashboard's Account home) and that the API token covers that account"}
	case b.cfg.AccountID != "":
		out[acct].Detail = account + " (CLOUDFLARE_ACCOUNT_ID; answered)"
	default:
		out[acct].Detail = account + " (the API token's only account)"
	}
	return out
}

func (b *Backend) s3EndpointForCheck(account string) string {
	ep, err := s3Endpoint(account, b.cfg.Jurisdiction, b.cfg.R2Endpoint)
	if err != nil {
		return "the S3 endpoint"
	}
	return redactURL(ep)
}
