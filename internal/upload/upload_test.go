package upload

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func data(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// failAfter is a writer that fails once it has taken n bytes.
type failAfter struct {
	n   int
	buf bytes.Buffer
}

func (w *failAfter) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.n {
		return 0, errors.New("disk full")
	}
	return w.buf.Write(p)
}

// copyHashing writes and hashes exactly the bytes read, whatever the size
// against its chunk and however the reader splits them; a failed write
// returns the writer's error (and its hashing goroutine has ended: the
// race detector would see h used after the return otherwise).
func TestCopyHashing(t *testing.T) {
	for _, size := range []int{0, 1, ChunkSize - 1, ChunkSize, ChunkSize + 1, 5*ChunkSize + 3} {
		in := data(size)
		for name, r := range map[string]io.Reader{
			"whole": bytes.NewReader(in),
			"half":  iotest.HalfReader(bytes.NewReader(in)),
		} {
			var out bytes.Buffer
			h := md5.New()
			n, err := copyHashing(&out, r, int64(size)+1, h)
			if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), in) {
				t.Errorf("%d bytes, %s reads: copied %d, %v; bytes equal: %v", size, name, n, err, bytes.Equal(out.Bytes(), in))
			}
			if want := md5.Sum(in); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("%d bytes, %s reads: MD5 %x, want %x", size, name, h.Sum(nil), want)
			}
		}
	}
	in := data(4 * ChunkSize)
	w := &failAfter{n: 2 * ChunkSize}
	h := md5.New()
	n, err := copyHashing(w, bytes.NewReader(in), int64(len(in))+1, h)
	if err == nil || err.Error() != "disk full" || n != 2*ChunkSize {
		t.Errorf("failing writer: copied %d, %v; want %d and disk full", n, err, 2*ChunkSize)
	}
	h.Sum(nil) // after the return h is the caller's alone
}

// Copy takes exactly Size bytes, hashes and reports them, and says which of
// the body, the destination or the request failed.
func TestCopy(t *testing.T) {
	ctx := context.Background()
	in := data(3*ChunkSize + 5)
	var out bytes.Buffer
	var seen []int64
	h := md5.New()
	err := Copy(ctx, &out, bytes.NewReader(in), Body{Field: "content", Size: int64(len(in)), Hash: h, Progress: func(n int64) { seen = append(seen, n) }})
	if err != nil || !bytes.Equal(out.Bytes(), in) {
		t.Fatalf("Copy: %v, bytes equal %v", err, bytes.Equal(out.Bytes(), in))
	}
	if want := md5.Sum(in); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Errorf("MD5 %x, want %x", h.Sum(nil), want)
	}
	if len(seen) == 0 || seen[len(seen)-1] != int64(len(in)) {
		t.Errorf("progress %v, want it to end at %d", seen, len(in))
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	readErr := errors.New("connection reset")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		w    io.Writer
		r    io.Reader
		size int64
		code storage.Code // "" for an error without one
		says string
		sent int64 // of a *WriteError; -1 for none
	}{
		{"missing", ctx, io.Discard, nil, 1, storage.CodeInvalidArgument, "value: is required", -1},
		{"negative", ctx, io.Discard, strings.NewReader(""), -1, storage.CodeInvalidArgument, "value: size -1 is negative", -1},
		{"short", ctx, io.Discard, strings.NewReader("abc"), 5, storage.CodeInvalidArgument, "value: got 3 bytes where its size says 5", -1},
		{"long", ctx, io.Discard, strings.NewReader("abcdef"), 5, storage.CodeInvalidArgument, "value: holds more bytes than its size of 5", -1},
		{"reader fails", ctx, io.Discard, iotest.ErrReader(readErr), 5, "", "connection reset", -1},
		{"writer fails", ctx, &failAfter{n: ChunkSize}, bytes.NewReader(in), int64(len(in)), "", "disk full", 0},
		{"request ended", cancelled, io.Discard, strings.NewReader("abc"), 3, "", "context canceled", 0},
	} {
		err := Copy(tc.ctx, tc.w, tc.r, Body{Field: "value", Size: tc.size})
		var we *WriteError
		isWrite := errors.As(err, &we)
		var coded *storage.Error
		if errors.As(err, &coded) != (tc.code != "") {
			t.Errorf("%s: %v carries a code: %v, want %v", tc.name, err, coded != nil, tc.code != "")
		}
		if err == nil || tc.code != "" && storage.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.says) || isWrite != (tc.sent >= 0) {
			t.Errorf("%s: %v (write error %v); want code %q saying %q, write error %v", tc.name, err, isWrite, tc.code, tc.says, tc.sent >= 0)
		}
	}
	err = Copy(cancelled, io.Discard, strings.NewReader("abc"), Body{Field: "value", Size: 3})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("request ended: %v does not match context.Canceled", err)
	}
}
