package miniflare

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/durable"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/upload"
)

// A blob is the bytes of one KV value, object or multipart part, in
// v3/<area>/<name>/blobs/<blob id>. Miniflare writes it whole before the
// row that names it is committed, never changes it, and deletes it once no
// row names it; this package does the same, and makes the file durable
// (fsync, rename, fsync of the folder) before its transaction.

// tmpPrefix names this package's temp files in a blobs folder. Miniflare
// never lists a blobs folder (a blob is found only through its row), so a
// temp file there is invisible to it; the prefix keeps the sweep from ever
// touching a blob.
const tmpPrefix = ".mcp-cfstorage-"

// orphanAge is how old a temp file must be for the sweep to remove it: a
// younger one may be a write in flight in another process.
const orphanAge = time.Hour

// newBlobID is Miniflare's generateBlobId: 32 random bytes, then the time
// in milliseconds as a big-endian int64, in hex (80 digits).
func newBlobID(now time.Time) string {
	var b [40]byte
	rand.Read(b[:32]) // never fails: it crashes the program first (Go 1.24)
	binary.BigEndian.PutUint64(b[32:], uint64(now.UnixMilli()))
	return hex.EncodeToString(b[:])
}

// isBlobID reports whether name has the form of a blob id, so that a row
// naming anything else (a path, "../x") is never followed out of the
// blobs folder.
func isBlobID(name string) bool {
	if len(name) < 16 || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// openBlob opens the blob id in dir. An error matching fs.ErrNotExist says
// it is gone (a write replaced it meanwhile).
func openBlob(dir, id string) (*os.File, error) {
	if !isBlobID(id) {
		return nil, storage.Errorf(storage.CodeInternal, "wrangler state: a row in %s names the blob %q, which is not a blob id: the state is damaged", dir, id)
	}
	return os.Open(filepath.Join(dir, id))
}

// blobWrite is a blob being written.
type blobWrite struct {
	field    string // "value" or "content", in errors the caller's input causes
	size     int64
	md5      bool // hash the bytes (an object's ETag)
	progress func(int64)
	// deferSync leaves the blob's durability to the caller, who calls
	// syncBlobs for a whole batch before any row names them.
	deferSync bool
}

// writeBlob streams exactly w.size bytes of r into a new blob in dir and
// returns its id, and the hex MD5 of the bytes when w.md5. The blob is
// durable when it returns: written to a temp file, fsynced, renamed to its
// id, the folder fsynced. On error nothing is left behind.
func (s *Store) writeBlob(ctx context.Context, dir string, r io.Reader, w blobWrite) (id, sum string, err error) {
	body := upload.Body{Field: w.field, Size: w.size, Progress: w.progress}
	if err := body.Check(r); err != nil {
		return "", "", err
	}
	if w.md5 {
		body.Hash = md5.New()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fsErr(ctx, "creating the blob folder "+dir, err)
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return "", "", fsErr(ctx, "creating a temp file in "+dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	dw := durable.NewWriter(f) // the disk writes while the bytes arrive
	defer dw.Wait()            // before f is closed, on every path
	if err := upload.Copy(ctx, dw, r, body); err != nil {
		var we *upload.WriteError
		switch {
		case isStorageErr(err):
			return "", "", err
		case errors.As(err, &we) && ctx.Err() != nil:
			return "", "", fmt.Errorf("wrangler state: write stopped after %d bytes: %w", we.Sent, we.Err)
		case errors.As(err, &we):
			return "", "", fsErr(ctx, "writing a blob", we.Err)
		}
		return "", "", fmt.Errorf("wrangler state: reading the %s: %w", w.field, err)
	}
	dw.Wait()
	if !w.deferSync {
		if err := f.Sync(); err != nil {
			return "", "", fsErr(ctx, "syncing a blob", err)
		}
	}
	if err := f.Close(); err != nil {
		return "", "", fsErr(ctx, "closing a blob", err)
	}
	s.reached("temp file synced")
	id = newBlobID(s.opts.Now())
	if err := os.Rename(f.Name(), filepath.Join(dir, id)); err != nil {
		return "", "", fsErr(ctx, "storing a blob", err)
	}
	if !w.deferSync {
		if err := durable.SyncDir(dir); err != nil {
			os.Remove(filepath.Join(dir, id))
			return "", "", fsErr(ctx, "storing a blob", err)
		}
	}
	if w.md5 {
		sum = hex.EncodeToString(body.Hash.Sum(nil))
	}
	return id, sum, nil
}

// removeBlobs deletes blobs no row names any more. A failure only leaks
// space (as it does in Miniflare, whose deletes run in the background), so
// it is logged, not returned.
func (s *Store) removeBlobs(dir string, ids []string) {
	for _, id := range ids {
		if !isBlobID(id) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("wrangler state: removing an unused blob failed", "dir", dir, "blob", id, "err", err)
		}
	}
}

// sweepTemps removes temp files of writes that died before their rename,
// older than orphanAge. Blobs a crash left unnamed after their rename are
// left alone: Miniflare leaks them in the same way, never reads them, and
// telling one from a blob a running workerd is about to name needs its
// rows, which another process may be writing.
func (s *Store) sweepTemps(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	cutoff := s.opts.Now().Add(-orphanAge)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), tmpPrefix) {
			continue
		}
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// syncBlobs makes the blobs ids of dir, written with deferSync, durable:
// their bytes and their names. A bulk write of 10,000 values is 10,000
// blobs (Miniflare keeps every value in one); one sync of the file system
// where it can (Linux's syncfs) instead of 20,000 fsyncs turns a minute
// into a second.
func syncBlobs(dir string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if ok, err := syncFS(dir); ok {
		return err
	}
	for _, id := range ids {
		f, err := os.Open(filepath.Join(dir, id))
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return durable.SyncDir(dir)
}
