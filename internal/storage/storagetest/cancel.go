package storagetest

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

// cancellingReader yields the pattern and cancels its context once it has
// given after bytes: a client that gives up in the middle of an upload.
type cancellingReader struct {
	r      *patternReader
	after  int64
	cancel context.CancelFunc
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.r.off >= c.after {
		c.cancel()
	}
	// Small reads, so that the cancel falls in the middle of the upload
	// however large the caller's buffer.
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	return c.r.Read(p)
}

// wantCancelled checks the error of a cancelled call: unavailable, as
// storage.CodeOf and storage.Describe report it. A backend may return the
// context's error itself (wrapped), which is not an *storage.Error, so
// errors.Is(err, storage.ErrUnavailable) is not required.
func wantCancelled(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("a cancelled call succeeded")
	}
	if c := storage.CodeOf(err); c != storage.CodeUnavailable {
		t.Fatalf("a cancelled call failed with %s (%v), want unavailable", c, err)
	}
	if d := storage.Describe(err); !strings.HasPrefix(d, "unavailable: ") {
		t.Errorf("Describe = %q, want it to start with unavailable", d)
	}
}

// cancellation checks DESIGN.md section 2: every call is bound to the
// request's context, and a call that is cancelled changes nothing.
func (s *suite) cancellation(t *testing.T) {
	s.test(t, "KVBeforeCall", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "cancel")
		mustPutKV(t, st, ns.ID, "k", []byte("old"))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := st.KV().Put(ctx, ns.ID, kvPut("k", []byte("new")))
		wantCancelled(t, err)
		_, err = st.KV().BulkPut(ctx, ns.ID, []storage.KVEntry{{Key: "b", Value: []byte("x")}})
		wantCancelled(t, err)
		wantKVValue(t, st, ns.ID, "k", []byte("old"))
		wantKVMissing(t, st, ns.ID, "b")
	})

	s.test(t, "KVDuringUpload", func(t *testing.T, st *storage.Store) {
		ns := mustCreateNS(t, st, "cancel")
		mustPutKV(t, st, ns.ID, "k", []byte("old"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const n = 4 << 20
		body := &cancellingReader{r: newPatternReader(n), after: 1 << 20, cancel: cancel}
		err := st.KV().Put(ctx, ns.ID, storage.KVPut{Key: "k", Body: body, Size: n})
		wantCancelled(t, err)
		wantKVValue(t, st, ns.ID, "k", []byte("old"))
	})

	s.test(t, "R2DuringUpload", func(t *testing.T, st *storage.Store) {
		b := mustCreateBucket(t, st, "cancel")
		mustPutObject(t, st, b, "k", []byte("old"))
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const n = 8 << 20
		body := &cancellingReader{r: newPatternReader(n), after: 1 << 20, cancel: cancel}
		_, err := st.R2().PutObject(ctx, storage.ObjectPut{Bucket: b, Key: "k", Body: body, Size: n})
		wantCancelled(t, err)
		_, err = st.R2().PutObject(ctx, storage.ObjectPut{Bucket: b, Key: "new", Body: newPatternReader(10), Size: 10})
		wantCancelled(t, err)
		wantObject(t, st, b, "k", []byte("old"))
		wantStrings(t, "ListObjects", listObjects(t, st, b, storage.ObjectListOptions{}).keys(), []string{"k"})
	})

	s.test(t, "R2DuringDownload", func(t *testing.T, st *storage.Store) {
		// A download stops when its request is cancelled: the body ends in
		// an error rather than running on.
		b := mustCreateBucket(t, st, "cancel")
		const n = 8 << 20
		mustPutObjectWith(t, st, storage.ObjectPut{Bucket: b, Key: "big", Body: newPatternReader(n), Size: n})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		obj, err := st.R2().GetObject(ctx, b, "big", nil)
		must(t, err, "GetObject")
		defer obj.Body.Close()
		if _, err := io.CopyN(io.Discard, obj.Body, 1<<20); err != nil {
			t.Fatalf("reading the first MiB: %v", err)
		}
		cancel()
		rest, err := io.Copy(io.Discard, obj.Body)
		if err == nil {
			t.Errorf("the body read on to the end (%d more bytes) after its request was cancelled", rest)
		}
	})
}
