package cf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/textproto"
	"sync"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// valueBody is the body of a KV write, streamed: the value alone as
// application/octet-stream, or, with metadata, multipart/form-data with a
// "metadata" part (the JSON) and a "value" part, as the API asks. Its length
// is known before it is sent (the multipart framing is written in advance),
// so the request has a Content-Length and nothing is buffered.
//
// When the value comes from an io.ReaderAt that can tell its position (an
// *os.File, a bytes.Reader, a strings.Reader: what the tools pass), each
// attempt reads its own section of it, so a retry can send the body again.
// Any other reader is read once, and the write is not retried.
//
// Reading stops when ctx ends: a cancelled write must not finish sending
// its value, or the server would store it all the same.
type valueBody struct {
	io.Reader // this attempt's body

	contentType string
	head, tail  []byte // multipart framing around the value; empty without metadata
	size        int64  // of the value

	src io.Reader   // the value's source, when it is not replayable
	at  io.ReaderAt // or: the value is size bytes of at from off
	off int64
	ctx context.Context

	mu  sync.Mutex
	bad error // the source held fewer or more bytes than size
}

// newValueBody prepares the body of a write of size bytes from src, with
// metadata when meta is not nil, for a request made with ctx.
func newValueBody(ctx context.Context, src io.Reader, size int64, meta json.RawMessage) *valueBody {
	b := &valueBody{contentType: "application/octet-stream", size: size, src: src, ctx: ctx}
	if at, ok := src.(io.ReaderAt); ok {
		if s, ok := src.(io.Seeker); ok {
			if off, err := s.Seek(0, io.SeekCurrent); err == nil {
				b.at, b.off, b.src = at, off, nil
			}
		}
	}
	if meta != nil {
		b.contentType, b.head, b.tail = multipartFrame(meta)
	}
	b.Reader = b.attempt()
	return b
}

// multipartFrame writes the multipart framing around a value: everything
// before its bytes and everything after. The value part is a file part
// (with a filename): form parsers decode a plain field as UTF-8 text, which
// would not carry a binary value byte for byte.
func multipartFrame(meta json.RawMessage) (contentType string, head, tail []byte) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer cannot fail.
	part, _ := w.CreateFormField("metadata")
	_, _ = part.Write(meta)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="value"; filename="value"`)
	h.Set("Content-Type", "application/octet-stream")
	_, _ = w.CreatePart(h)
	head = bytes.Clone(buf.Bytes())
	buf.Reset()
	_ = w.Close()
	return w.FormDataContentType(), head, bytes.Clone(buf.Bytes())
}

// attempt is the body of one attempt: the framing around exactly size bytes
// of the value.
func (b *valueBody) attempt() io.Reader {
	var value io.Reader
	if b.at != nil {
		// One byte past the value, so that a longer source is noticed.
		value = io.NewSectionReader(b.at, b.off, b.size+1)
	} else {
		value = b.src
	}
	return io.MultiReader(bytes.NewReader(b.head), &exactReader{r: value, left: b.size, body: b}, bytes.NewReader(b.tail))
}

// Close does not close the source: it is the caller's.
func (b *valueBody) Close() error { return nil }

func (b *valueBody) length() int64 {
	return int64(len(b.head)) + b.size + int64(len(b.tail))
}

func (b *valueBody) reopener() func() (io.ReadCloser, error) {
	if b.at == nil {
		return nil
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(b.attempt()), nil }
}

// err reports a source that did not hold exactly size bytes: the caller's
// mistake, whatever the transport made of the aborted request.
func (b *valueBody) err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bad
}

func (b *valueBody) fail(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bad == nil {
		b.bad = err
	}
	return err
}

// exactReader yields exactly left bytes of r, and fails when r holds fewer
// or more: a value is stored whole or not at all, as on the local backend.
// The check for more is made before the last bytes are handed on, so that a
// server never receives a complete body of the wrong value.
type exactReader struct {
	r     io.Reader
	left  int64
	read  int64
	ended bool // r was found to end where the value does
	body  *valueBody
}

func (e *exactReader) Read(p []byte) (int, error) {
	if err := e.body.ctx.Err(); err != nil {
		return 0, err
	}
	if e.left == 0 {
		return 0, e.end()
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	if cerr := e.body.ctx.Err(); cerr != nil {
		// Cancelled while reading: these bytes are not sent either.
		return 0, cerr
	}
	e.left -= int64(n)
	e.read += int64(n)
	switch {
	case e.left == 0:
		if err := e.end(); err != io.EOF {
			return 0, err
		}
		return n, nil
	case errors.Is(err, io.EOF):
		return n, e.body.fail(storage.Errorf(storage.CodeInvalidArgument,
			"value: got %d bytes where its size says %d", e.read, e.read+e.left))
	}
	return n, err
}

// end checks that r ends with the value: io.EOF when it does.
func (e *exactReader) end() error {
	if !e.ended {
		var one [1]byte
		if n, _ := io.ReadFull(e.r, one[:]); n > 0 {
			return e.body.fail(storage.Errorf(storage.CodeInvalidArgument,
				"value: holds more bytes than its size of %d", e.read))
		}
		e.ended = true
	}
	return io.EOF
}
