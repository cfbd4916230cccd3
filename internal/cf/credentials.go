package cf

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cloudflare/cloudflare-go/v7/accounts"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// The backend starts lazily: New does no I/O, and what it needs to learn
// from Cloudflare is learnt by the first call that needs it, under b.gate,
// and kept. A failure is not kept: the next call tries again, so a server
// started while offline, or before its token was fixed, recovers.

// lock admits one caller at a time to the lazy start; waiting for it ends
// with ctx.
func (b *Backend) lock(ctx context.Context) error {
	select {
	case b.gate <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("cloudflare: %w", ctx.Err())
	}
	if b.closed {
		b.unlock()
		return storage.Errorf(storage.CodeUnavailable, "cloudflare backend: closed")
	}
	return nil
}

func (b *Backend) unlock() { <-b.gate }

// account is the id of the account every call is made in.
func (b *Backend) account(ctx context.Context) (string, error) {
	if err := b.lock(ctx); err != nil {
		return "", err
	}
	defer b.unlock()
	return b.accountLocked(ctx)
}

// maxAccountsListed bounds how many accounts a lookup reads, to name them
// in an error: a token that sees more is one that needs
// CLOUDFLARE_ACCOUNT_ID anyway.
const maxAccountsListed = 100

// accountLocked returns CLOUDFLARE_ACCOUNT_ID or, when it is not set, the one
// account the token can see. The caller holds the gate.
func (b *Backend) accountLocked(ctx context.Context) (string, error) {
	if b.accountID != "" {
		return b.accountID, nil
	}
	c := call{op: "finding the account of the API token", area: areaAccount}
	const perPage = 50 // the most GET /accounts serves (reference spec)
	var found []accounts.Account
	for page := 1; len(found) < maxAccountsListed; page++ {
		var p accounts.AccountListParams
		p.Page.Value, p.Page.Present = float64(page), true
		p.PerPage.Value, p.PerPage.Present = perPage, true
		res, err := b.rest.accounts.List(ctx, p)
		if err != nil {
			err = c.fail(ctx, err)
			if errors.Is(err, storage.ErrPermissionDenied) {
				err = explain(err, "; or set CLOUDFLARE_ACCOUNT_ID, which needs no lookup")
			}
			return "", err
		}
		found = append(found, res.Result...)
		if len(res.Result) < perPage {
			break
		}
	}
	switch len(found) {
	case 0:
		return "", storage.Errorf(storage.CodePermissionDenied,
			"CLOUDFLARE_ACCOUNT_ID: not set, and the API token can see no account: give the token access to the account (with Account Settings:Read), or set CLOUDFLARE_ACCOUNT_ID")
	case 1:
		b.accountID = found[0].ID
		b.log.LogAttrs(ctx, slog.LevelInfo, "cloudflare: using the API token's only account",
			slog.String("account_id", found[0].ID), slog.String("name", found[0].Name))
		return b.accountID, nil
	}
	names := make([]string, len(found))
	for i, a := range found {
		names[i] = fmt.Sprintf("%s (%s)", a.ID, a.Name)
	}
	more := ""
	if len(found) >= maxAccountsListed {
		more = ", and maybe more"
	}
	return "", storage.Errorf(storage.CodeInvalidArgument,
		"CLOUDFLARE_ACCOUNT_ID: not set, and the API token can see %d accounts: set it to one of %s%s",
		len(found), strings.Join(names, ", "), more)
}

// tokenInfo is what Cloudflare says of the API token.
type tokenInfo struct {
	ID     string
	Status string // active, disabled, expired
}

// verifyToken asks Cloudflare about the API token. A user API token
// verifies at /user/tokens/verify; an account API token only at
// /accounts/{id}/tokens/verify, so that is tried when the first refuses.
func (b *Backend) verifyToken(ctx context.Context, accountID string) (tokenInfo, error) {
	c := call{op: "verifying the API token", area: areaAccount}
	res, err := b.rest.userTokens.Verify(ctx)
	if err == nil {
		return tokenInfo{ID: res.ID, Status: string(res.Status)}, nil
	}
	var e *apiError
	if ctx.Err() != nil || !errors.As(err, &e) || !refused(e.Status) || accountID == "" {
		return tokenInfo{}, c.fail(ctx, err)
	}
	var p accounts.TokenVerifyParams
	p.AccountID.Value, p.AccountID.Present = accountID, true
	ares, err := b.rest.accountTokens.Verify(ctx, p)
	if err != nil {
		return tokenInfo{}, c.fail(ctx, err)
	}
	return tokenInfo{ID: ares.ID, Status: string(ares.Status)}, nil
}

// refused reports a status with which the user verify endpoint turns away
// an account API token.
func refused(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}

// s3Credentials are R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY or, when they
// are not set, the S3 credentials R2 derives from an API token: the token's
// id (from the verify endpoint) as the access key id, and the hex SHA-256 of
// the token's value as the secret (DESIGN.md section 2, after Cloudflare's
// R2 authentication docs, "Get S3 API credentials from an API token"). The
// token needs Workers R2 Storage permission for them to work.
func (b *Backend) s3Credentials(ctx context.Context, accountID string) (id, secret string, err error) {
	if b.cfg.R2AccessKeyID != "" {
		return b.cfg.R2AccessKeyID, b.cfg.R2SecretAccessKey, nil
	}
	tok, err := b.verifyToken(ctx, accountID)
	if err != nil {
		return "", "", explain(err, " (the R2 S3 credentials are derived from the token; or set R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY)")
	}
	if tok.Status != "active" {
		return "", "", storage.Errorf(storage.CodePermissionDenied,
			"CLOUDFLARE_API_TOKEN: Cloudflare says the API token is %s: renew or re-enable it in the Cloudflare dashboard", tok.Status)
	}
	return tok.ID, derivedSecret(b.cfg.APIToken), nil
}

// derivedSecret is the S3 secret access key R2 derives from an API token.
func derivedSecret(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// objects is the S3 half of R2, made on first use.
func (b *Backend) objects(ctx context.Context) (r2ObjectOps, error) {
	if err := b.lock(ctx); err != nil {
		return nil, err
	}
	defer b.unlock()
	if b.objs != nil {
		return b.objs, nil
	}
	acct, err := b.accountLocked(ctx)
	if err != nil {
		return nil, err
	}
	id, secret, err := b.s3Credentials(ctx, acct)
	if err != nil {
		return nil, err
	}
	o, err := b.newObjects(objectConfig{
		AccountID:          acct,
		Endpoint:           b.cfg.R2Endpoint,
		Jurisdiction:       b.cfg.Jurisdiction,
		AccessKeyID:        id,
		SecretAccessKey:    secret,
		HTTPClient:         b.cfg.HTTPClient,
		PartSize:           b.cfg.PartSize,
		Concurrency:        b.cfg.Concurrency,
		MultipartThreshold: b.cfg.MultipartThreshold,
		Stall:              b.cfg.Timeout,
		Now:                b.now,
		Log:                b.log,
	})
	if err != nil {
		return nil, storage.Errorf(storage.CodeUnavailable, "cloudflare: cannot set up the R2 S3 client: %w", err)
	}
	b.objs = o
	return o, nil
}
