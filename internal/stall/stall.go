// Package stall bounds the pauses of a response body that may take as long
// as it takes to read: a body that stops arriving fails as unavailable
// instead of holding its reader forever. The cloudflare backend's REST and
// S3 answers and the wrangler backend's Local Explorer answers use it.
package stall

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// ErrStalled is the cause with which a Body cancels its call.
var ErrStalled = errors.New("the answer stopped arriving")

// Body is a response body that may take as long as it takes to read, but
// not pause: a read that waits longer than the stall time for a byte
// cancels the call (with cause ErrStalled), and fails as unavailable. The
// time the caller spends between reads is not counted. Close releases the
// call's context.
type Body struct {
	rc     io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	stall  time.Duration
	timer  *time.Timer
	what   string // what was being read, for the error: "cloudflare: GET /path"
}

// NewBody bounds the pauses of rc, the body of the call whose context is
// ctx (cancelled by cancel), by stall.
func NewBody(rc io.ReadCloser, ctx context.Context, cancel context.CancelCauseFunc, stall time.Duration, what string) *Body {
	b := &Body{rc: rc, ctx: ctx, cancel: cancel, stall: stall, what: what}
	b.timer = time.AfterFunc(stall, func() { cancel(ErrStalled) })
	b.timer.Stop() // armed by each read
	return b
}

func (b *Body) Read(p []byte) (int, error) {
	b.timer.Reset(b.stall)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	if err != nil && err != io.EOF && context.Cause(b.ctx) == ErrStalled {
		return n, storage.Errorf(storage.CodeUnavailable,
			"%s: the answer stopped arriving (nothing for %s); try again later", b.what, b.stall)
	}
	return n, err
}

func (b *Body) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
