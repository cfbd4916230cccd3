// Package upload streams a body of a stated size into a file: exactly that
// many bytes or an invalid_argument error saying which way it was off,
// hashed on the way when asked (MD5, an object's ETag), progress reported,
// stopped once the request is done. It is the one copy loop of the
// embedded backend's uploads and the wrangler files backend's blobs.
package upload

import (
	"context"
	"hash"
	"io"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// ChunkSize is the chunk a body is read, hashed and written in. Not larger:
// on the test machine, 1 GiB written in 1 MiB chunks took 1.7x as long as in
// 128 KiB ones (internal/local's BenchmarkR2Upload), the chunk no longer
// staying in the CPU's cache between the hash and the write.
const ChunkSize = 128 << 10

// Body is what Copy reads.
type Body struct {
	// Field names the bytes in the errors the caller's input causes:
	// "content" for an object, "value" for a KV value.
	Field string
	// Size is how many bytes the body must hold.
	Size int64
	// Hash, when set, is fed every byte (in order).
	Hash hash.Hash
	// Progress, when set, is told the bytes written so far after each
	// write.
	Progress func(int64)
}

// Check refuses a missing body or a negative size, before the caller makes
// anything to copy into.
func (b Body) Check(r io.Reader) error {
	if r == nil {
		return storage.Errorf(storage.CodeInvalidArgument, "%s: is required", b.Field)
	}
	if b.Size < 0 {
		return storage.Errorf(storage.CodeInvalidArgument, "%s: size %d is negative", b.Field, b.Size)
	}
	return nil
}

// WriteError is a failure of the destination, or the end of the request's
// context (Err is then ctx.Err()), after Sent bytes.
type WriteError struct {
	Sent int64
	Err  error
}

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// Copy copies exactly b.Size bytes of r into w. Its error is a storage
// error (invalid_argument) for a body that is missing, too short or too
// long, a *WriteError for w's failure or ctx's end, or else r's own error.
func Copy(ctx context.Context, w io.Writer, r io.Reader, b Body) error {
	if err := b.Check(r); err != nil {
		return err
	}
	cw := &writer{ctx: ctx, w: w, progress: b.Progress}
	// One byte more than the size, to tell a body that is too long.
	n, err := copyHashing(cw, io.LimitReader(r, b.Size+1), b.Size+1, b.Hash)
	switch {
	case cw.err != nil:
		return cw.err
	case err != nil:
		return err
	case n < b.Size:
		return storage.Errorf(storage.CodeInvalidArgument, "%s: got %d bytes where its size says %d", b.Field, n, b.Size)
	case n > b.Size:
		return storage.Errorf(storage.CodeInvalidArgument, "%s: holds more bytes than its size of %d", b.Field, b.Size)
	}
	return nil
}

// copyHashing copies r, which holds at most max bytes, into w in chunks of
// up to ChunkSize, and also into h unless h is nil. The chunks are no
// larger than the content needs: a small body does not allocate a whole
// chunk.
//
// Once there is more than one chunk, h hashes on a goroutine of its own,
// each chunk after it is written, while the next is read and written: MD5
// costs about as much CPU as the write itself, so done in turn they took
// twice as long (1 GiB on the test machine). Each of the few buffers is
// either being filled and written, or being hashed, or free.
func copyHashing(w io.Writer, r io.Reader, max int64, h hash.Hash) (int64, error) {
	size := int(min(max, ChunkSize))
	if h == nil {
		return io.CopyBuffer(w, r, make([]byte, size))
	}
	if max <= ChunkSize {
		return io.CopyBuffer(io.MultiWriter(w, h), r, make([]byte, size))
	}
	const bufs = 3
	free := make(chan []byte, bufs) // never full when sent to: no send blocks
	for range bufs {
		free <- make([]byte, size)
	}
	written := make(chan []byte, bufs)
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for b := range written {
			h.Write(b) // never fails
			free <- b
		}
	}()
	defer func() {
		close(written)
		<-hashed // h is complete, and not used after the return
	}()
	var n int64
	for {
		buf := <-free
		m, rerr := r.Read(buf[:cap(buf)])
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
			written <- buf[:m]
		} else {
			free <- buf
		}
		switch {
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, rerr
		}
	}
}

// writer writes to the destination, stops once ctx is done and reports
// progress. It keeps its own error apart from the reader's.
type writer struct {
	ctx      context.Context
	w        io.Writer
	progress func(int64)
	sent     int64
	err      error
}

func (w *writer) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		w.err = &WriteError{Sent: w.sent, Err: err}
		return 0, w.err
	}
	n, err := w.w.Write(p)
	w.sent += int64(n)
	if err != nil {
		w.err = &WriteError{Sent: w.sent, Err: err}
		return n, w.err
	}
	if w.progress != nil {
		w.progress(w.sent)
	}
	return n, nil
}
