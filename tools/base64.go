package tools

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"unsafe"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// base64Body is a value given as base64 (kv_put value_base64, r2_upload
// content_base64), ready to be written: a reader that decodes as it is
// read, so that a 25 MiB value is never held decoded, and an io.ReaderAt
// and io.Seeker, which backends read in concurrent sections or rewind for
// a retry, as they read a file. The text is checked whole before anything
// is written: bad input is refused, not half stored.
//
// Standard and URL-safe base64, padded or not, are accepted: models produce
// all four. Text broken into lines is decoded whole (decodeBase64Lines).
func base64Body(field, s string) (body interface {
	io.Reader
	io.ReaderAt
	io.Seeker
}, size int64, err error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "\r\n") {
		b, err := decodeBase64Lines(field, s)
		return bytes.NewReader(b), int64(len(b)), err
	}
	r, ok := newBase64Reader(s)
	if !ok {
		return nil, 0, errBase64(field)
	}
	// Decoding it once into a small buffer checks every character.
	var scratch [3 << 10]byte
	for off := int64(0); off < r.size; off += int64(len(scratch)) {
		if _, err := r.ReadAt(scratch[:], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, errBase64(field)
		}
	}
	return r, r.size, nil
}

// decodeBase64 decodes a base64 value whole (kv_bulk_put's values), in any
// of the forms base64Body accepts.
func decodeBase64(field, s string) ([]byte, error) {
	r, size, err := base64Body(field, s)
	if err != nil {
		return nil, err
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, errBase64(field)
	}
	return out, nil
}

// decodeBase64Lines decodes base64 broken into lines by trying each form in
// turn; the decoders skip the line breaks.
func decodeBase64Lines(field, s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errBase64(field)
}

func errBase64(field string) error {
	return storage.Errorf(storage.CodeInvalidArgument, "%s: not valid base64", field)
}

// base64Reader decodes base64 text of one line on demand. Offsets map
// straight to the text: decoded byte n is in the 4-character group n/3.
type base64Reader struct {
	enc  *base64.Encoding
	src  []byte // the text, viewed as bytes; never written
	size int64  // decoded
	off  int64  // of Read and Seek
}

// newBase64Reader picks the one form s can be in: the alphabet from its
// characters (- or _ only in URL-safe base64; text with neither reads the
// same in both), padding from its end. It reports false when the length
// cannot be base64 of that form.
func newBase64Reader(s string) (*base64Reader, bool) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	n := int64(len(s))
	var size int64
	if pad := strings.IndexByte(s, '='); pad >= 0 {
		// Padding only ends the last group.
		if n%4 != 0 || int64(pad) < n-2 {
			return nil, false
		}
		size = n/4*3 - (n - int64(pad))
	} else {
		enc = enc.WithPadding(base64.NoPadding)
		switch n % 4 {
		case 1:
			return nil, false
		case 2:
			size = n/4*3 + 1
		case 3:
			size = n/4*3 + 2
		default:
			size = n / 4 * 3
		}
	}
	return &base64Reader{enc: enc, src: unsafe.Slice(unsafe.StringData(s), len(s)), size: size}, true
}

// decode decodes count groups from group g into dst, which holds 3*count
// bytes.
func (r *base64Reader) decode(dst []byte, g, count int64) (int, error) {
	return r.enc.Decode(dst, r.src[4*g:min(4*(g+count), int64(len(r.src)))])
}

// ReadAt decodes len(p) bytes from off; it may be called concurrently.
func (r *base64Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("base64: negative offset")
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), r.size-off))
	done := 0
	for done < want {
		pos := off + int64(done)
		g, skip := pos/3, int(pos%3)
		if groups := int64(want-done) / 3; skip == 0 && groups > 0 {
			n, err := r.decode(p[done:], g, groups) // whole groups, in place
			done += n
			if err != nil {
				return done, err
			}
			continue
		}
		var q [3]byte // a group cut by off or by the end of p
		n, err := r.decode(q[:], g, 1)
		if err != nil {
			return done, err
		}
		done += copy(p[done:want], q[skip:n])
	}
	if done < len(p) {
		return done, io.EOF
	}
	return done, nil
}

func (r *base64Reader) Read(p []byte) (int, error) {
	n, err := r.ReadAt(p, r.off)
	r.off += int64(n)
	if errors.Is(err, io.EOF) && n > 0 {
		err = nil
	}
	return n, err
}

func (r *base64Reader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.size
	}
	if offset < 0 {
		return 0, errors.New("base64: seek before the start")
	}
	r.off = offset
	return offset, nil
}
