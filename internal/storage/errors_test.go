package storage_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

var allCodes = map[storage.Code]error{
	storage.CodeInvalidArgument:  storage.ErrInvalidArgument,
	storage.CodeNotFound:         storage.ErrNotFound,
	storage.CodeAlreadyExists:    storage.ErrAlreadyExists,
	storage.CodeConflict:         storage.ErrConflict,
	storage.CodeTooLarge:         storage.ErrTooLarge,
	storage.CodePermissionDenied: storage.ErrPermissionDenied,
	storage.CodeReadOnly:         storage.ErrReadOnly,
	storage.CodeUnsupported:      storage.ErrUnsupported,
	storage.CodeRateLimited:      storage.ErrRateLimited,
	storage.CodeUnavailable:      storage.ErrUnavailable,
	storage.CodeInternal:         storage.ErrInternal,
}

func TestCodesAreDesignsSet(t *testing.T) {
	// DESIGN.md section 3 lists exactly these codes.
	want := []string{"invalid_argument", "not_found", "already_exists", "conflict", "too_large",
		"permission_denied", "read_only", "unsupported", "rate_limited", "unavailable", "internal"}
	if len(allCodes) != len(want) {
		t.Fatalf("%d codes, want %d", len(allCodes), len(want))
	}
	for _, c := range want {
		if _, ok := allCodes[storage.Code(c)]; !ok {
			t.Errorf("code %q has no constant", c)
		}
	}
}

func TestErrorfWrapsCause(t *testing.T) {
	cause := fs.ErrNotExist
	err := storage.Errorf(storage.CodeNotFound, "object %q: %w", "a/b", cause)

	if got, want := err.Error(), `not_found: object "a/b": file does not exist`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is(err, cause) is false: %w did not record the cause")
	}
	if got := errors.Unwrap(err); got != cause {
		t.Errorf("Unwrap = %v, want the cause", got)
	}
	var e *storage.Error
	if !errors.As(err, &e) {
		t.Fatal("errors.As(*storage.Error) is false")
	}
	if e.Code != storage.CodeNotFound || e.Message != `object "a/b": file does not exist` || e.Err != cause {
		t.Errorf("Error = %+v", e)
	}
}

func TestErrorfWithoutCause(t *testing.T) {
	err := storage.Errorf(storage.CodeInvalidArgument, "key: %d bytes is over %d", 513, 512)
	if got, want := err.Error(), "invalid_argument: key: 513 bytes is over 512"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Unwrap(err) != nil {
		t.Errorf("Unwrap = %v, want nil", errors.Unwrap(err))
	}
	// A %v of an error records no cause.
	err = storage.Errorf(storage.CodeInternal, "reading: %v", fs.ErrClosed)
	if errors.Is(err, fs.ErrClosed) {
		t.Error("a cause formatted with the v verb, not w, was recorded")
	}
}

func TestIsMatchesByCode(t *testing.T) {
	for code, sentinel := range allCodes {
		err := storage.Errorf(code, "something about %s", code)
		wrapped := fmt.Errorf("outer: %w", err)
		for other, otherSentinel := range allCodes {
			want := other == code
			if got := errors.Is(err, otherSentinel); got != want {
				t.Errorf("errors.Is(%s error, Err%s) = %v, want %v", code, other, got, want)
			}
			if got := errors.Is(wrapped, otherSentinel); got != want {
				t.Errorf("errors.Is(wrapped %s error, Err%s) = %v, want %v", code, other, got, want)
			}
		}
		if got, want := sentinel.Error(), string(code)+": "; got != want {
			t.Errorf("sentinel Error() = %q, want %q", got, want)
		}
	}
}

func TestIsDoesNotMatchSpecificTargets(t *testing.T) {
	// Only a bare sentinel matches by code; an error with a message matches
	// itself only.
	a := storage.Errorf(storage.CodeNotFound, "a")
	b := storage.Errorf(storage.CodeNotFound, "b")
	if errors.Is(a, b) {
		t.Error("errors.Is(a, b) with different messages is true")
	}
	if !errors.Is(a, a) {
		t.Error("errors.Is(a, a) is false")
	}
	withCause := &storage.Error{Code: storage.CodeNotFound, Err: fs.ErrNotExist}
	if errors.Is(a, withCause) {
		t.Error("an *Error carrying a cause matched as a sentinel")
	}
	if errors.Is(errors.New("not_found: x"), storage.ErrNotFound) {
		t.Error("a plain error with the same text matched ErrNotFound")
	}
}

func TestCodeOf(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		err  error
		want storage.Code
	}{
		{"nil", nil, ""},
		{"coded", storage.Errorf(storage.CodeConflict, "x"), storage.CodeConflict},
		{"wrapped coded", fmt.Errorf("a: %w", fmt.Errorf("b: %w", storage.Errorf(storage.CodeTooLarge, "x"))), storage.CodeTooLarge},
		{"sentinel", storage.ErrReadOnly, storage.CodeReadOnly},
		{"canceled", context.Canceled, storage.CodeUnavailable},
		{"deadline", context.DeadlineExceeded, storage.CodeUnavailable},
		{"ctx.Err", ctx.Err(), storage.CodeUnavailable},
		{"wrapped canceled", fmt.Errorf("GET /x: %w", context.Canceled), storage.CodeUnavailable},
		{"coded wrapping canceled", storage.Errorf(storage.CodeNotFound, "gone: %w", context.Canceled), storage.CodeNotFound},
		{"joined", errors.Join(errors.New("x"), storage.Errorf(storage.CodeRateLimited, "slow down")), storage.CodeRateLimited},
		{"plain", errors.New("boom"), storage.CodeInternal},
		{"fs", fs.ErrPermission, storage.CodeInternal},
	}
	for _, c := range cases {
		if got := storage.CodeOf(c.err); got != c.want {
			t.Errorf("%s: CodeOf(%v) = %q, want %q", c.name, c.err, got, c.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"coded", storage.Errorf(storage.CodeTooLarge, "value: %d bytes is over %d", 30, 25), "too_large: value: 30 bytes is over 25"},
		{"coded with cause", storage.Errorf(storage.CodeNotFound, "key %q: %w", "k", fs.ErrNotExist), `not_found: key "k": file does not exist`},
		// The coded error's own text is what a tool reports, not the
		// wrapping context around it.
		{"wrapped coded", fmt.Errorf("kv_get: %w", storage.Errorf(storage.CodeNotFound, "key %q: not found", "k")), `not_found: key "k": not found`},
		{"canceled", fmt.Errorf("GET /v: %w", context.Canceled), "unavailable: the request was cancelled or timed out: GET /v: context canceled"},
		{"deadline", context.DeadlineExceeded, "unavailable: the request was cancelled or timed out: context deadline exceeded"},
		{"plain", errors.New("disk on fire"), "internal: disk on fire"},
	}
	for _, c := range cases {
		if got := storage.Describe(c.err); got != c.want {
			t.Errorf("%s: Describe = %q, want %q", c.name, got, c.want)
		}
	}
	// Every description starts with a code of the closed set.
	for code := range allCodes {
		d := storage.Describe(storage.Errorf(code, "m"))
		if d != string(code)+": m" {
			t.Errorf("Describe of a %s error = %q", code, d)
		}
	}
}

func TestErrorfKeepsSeveralCauses(t *testing.T) {
	err := storage.Errorf(storage.CodeInternal, "both: %w and %w", fs.ErrClosed, fs.ErrExist)
	if !errors.Is(err, fs.ErrClosed) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("a cause of two %%w verbs was lost: %v", err)
	}
}
