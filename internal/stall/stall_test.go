package stall_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/stall"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// ctxPipe is a body that delivers what is written to it, and fails with
// its context's error once the context is cancelled, as an HTTP body does.
func ctxPipe(ctx context.Context) (io.ReadCloser, *io.PipeWriter) {
	pr, pw := io.Pipe()
	context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	return pr, pw
}

// TestStalled: a body that stops arriving fails as unavailable, naming
// what was read, and cancels its call with ErrStalled.
func TestStalled(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	rc, pw := ctxPipe(ctx)
	go pw.Write([]byte("ab")) // then nothing
	b := stall.NewBody(rc, ctx, cancel, 20*time.Millisecond, "test: GET /x")
	defer b.Close()
	got, err := io.ReadAll(b)
	if string(got) != "ab" || !errors.Is(err, storage.ErrUnavailable) || !strings.Contains(err.Error(), "test: GET /x: the answer stopped arriving") {
		t.Errorf("ReadAll = %q, %v", got, err)
	}
	if context.Cause(ctx) != stall.ErrStalled {
		t.Errorf("cause = %v", context.Cause(ctx))
	}
}

// TestCallerPausesDoNotCount: the time the caller takes between reads is
// not a stall; Close releases the call's context.
func TestCallerPausesDoNotCount(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	b := stall.NewBody(io.NopCloser(strings.NewReader("abc")), ctx, cancel, 10*time.Millisecond, "test")
	var got []byte
	p := make([]byte, 1)
	for {
		time.Sleep(30 * time.Millisecond)
		n, err := b.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
	}
	if string(got) != "abc" || ctx.Err() != nil {
		t.Errorf("read %q, ctx %v", got, ctx.Err())
	}
	b.Close()
	if ctx.Err() == nil {
		t.Error("Close did not release the call's context")
	}
}
