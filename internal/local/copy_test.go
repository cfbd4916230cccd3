package local

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

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
	for _, size := range []int{0, 1, copyBufSize - 1, copyBufSize, copyBufSize + 1, 5*copyBufSize + 3} {
		data := value(size, 9)
		for name, r := range map[string]io.Reader{
			"whole": bytes.NewReader(data),
			"half":  iotest.HalfReader(bytes.NewReader(data)),
		} {
			var out bytes.Buffer
			h := md5.New()
			n, err := copyHashing(&out, r, int64(size)+1, h)
			if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), data) {
				t.Errorf("%d bytes, %s reads: copied %d, %v; bytes equal: %v", size, name, n, err, bytes.Equal(out.Bytes(), data))
			}
			if want := md5.Sum(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("%d bytes, %s reads: MD5 %x, want %x", size, name, h.Sum(nil), want)
			}
		}
	}
	data := value(4*copyBufSize, 3)
	w := &failAfter{n: 2 * copyBufSize}
	h := md5.New()
	n, err := copyHashing(w, bytes.NewReader(data), int64(len(data))+1, h)
	if err == nil || err.Error() != "disk full" || n != 2*copyBufSize {
		t.Errorf("failing writer: copied %d, %v; want %d and disk full", n, err, 2*copyBufSize)
	}
	h.Sum(nil) // after the return h is the caller's alone
}
