package local

import (
	"context"
	"crypto/md5"
	"database/sql"
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

// A blob is the bytes of one object version, or of one KV value over
// kvInlineMax, in blobs/<id[:2]>/<id>. It is written whole under tmp/,
// fsynced, renamed into place and its directory fsynced before any row names
// it, and never written again: an overwrite makes a new blob and the old one
// is removed once no row names it.

const (
	// orphanAge is how old an unreferenced blob or temp file must be before
	// the sweep removes it; a younger one may belong to a write in flight.
	orphanAge = time.Hour
)

// isBlobID reports whether name is one randomID could return, so the sweep
// never touches a file it did not make.
func isBlobID(name string) bool {
	if len(name) != 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// checkBlobSize refuses to serve a blob whose size is not its row's, which
// only a damaged data dir can show. what names the object or value.
func checkBlobSize(f *os.File, what string, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return storage.Errorf(storage.CodeInternal, "local: opening the data of %s: %w", what, err)
	}
	if fi.Size() != size {
		return storage.Errorf(storage.CodeInternal, "%s: its data file holds %d bytes, not %d: the data dir is damaged",
			what, fi.Size(), size)
	}
	return nil
}

func (s *store) blobPath(id string) string {
	return filepath.Join(s.blobs, id[:2], id)
}

// openBlob opens blob id for reading, in a way that lets it be removed
// while open on every platform (see openShared).
func (s *store) openBlob(id string) (*os.File, error) {
	return openShared(s.blobPath(id))
}

// receive streams size bytes of r into a new temp file and returns its
// path; with etag set it also hashes them on the way and returns the hex
// MD5 (an object's ETag; a KV value has none, and MD5 would cost it more
// than the write). The file is fsynced. On error nothing is left behind.
// field names the bytes in the errors the caller's input causes: "content"
// for an object, "value" for a KV value.
func (s *store) receive(ctx context.Context, field string, r io.Reader, size int64, progress func(int64), etag bool) (path, sum string, err error) {
	body := upload.Body{Field: field, Size: size, Progress: progress}
	if err := body.Check(r); err != nil {
		return "", "", err
	}
	if etag {
		body.Hash = md5.New()
	}
	f, err := os.CreateTemp(s.tmp, "put-*")
	if err != nil {
		return "", "", fsErr(ctx, "creating a temp file", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	w := durable.NewWriter(f) // the disk writes while the bytes arrive
	defer w.Wait()            // before f is closed, on every path
	if err := upload.Copy(ctx, w, r, body); err != nil {
		var se *storage.Error
		var we *upload.WriteError
		switch {
		case errors.As(err, &se):
			return "", "", err
		case errors.As(err, &we) && ctx.Err() != nil:
			return "", "", fmt.Errorf("local: upload stopped after %d bytes: %w", we.Sent, we.Err)
		case errors.As(err, &we):
			return "", "", fsErr(ctx, "writing an upload", we.Err)
		}
		return "", "", fmt.Errorf("local: reading the %s: %w", field, err)
	}
	w.Wait()
	if err := f.Sync(); err != nil {
		return "", "", fsErr(ctx, "syncing an upload", err)
	}
	if err := f.Close(); err != nil {
		return "", "", fsErr(ctx, "closing an upload", err)
	}
	if etag {
		sum = hex.EncodeToString(body.Hash.Sum(nil))
	}
	return f.Name(), sum, nil
}

// install moves the temp file at tmp into blobs/ under a new id and makes
// the move durable. On error the temp file is gone.
func (s *store) install(ctx context.Context, tmp string) (string, error) {
	id := randomID()
	dir := filepath.Dir(s.blobPath(id))
	if err := mkdirDurable(dir); err != nil {
		os.Remove(tmp)
		return "", fsErr(ctx, "creating a blob directory", err)
	}
	if err := os.Rename(tmp, s.blobPath(id)); err != nil {
		os.Remove(tmp)
		return "", fsErr(ctx, "storing an upload", err)
	}
	if err := s.syncDir(dir); err != nil {
		s.removeBlob(id)
		return "", fsErr(ctx, "storing an upload", err)
	}
	return id, nil
}

// link gives the bytes of blob src a second name, a new blob id: blobs are
// immutable, so a copied object can share them. It returns an error
// matching fs.ErrNotExist when src is gone.
func (s *store) link(src string) (string, error) {
	// Freshen the inode first: the new name must not look old enough to the
	// sweep of another process before its row is committed. (Links share
	// one mtime.)
	now := time.Now()
	if err := os.Chtimes(s.blobPath(src), now, now); err != nil {
		return "", err
	}
	id := randomID()
	dir := filepath.Dir(s.blobPath(id))
	if err := mkdirDurable(dir); err != nil {
		return "", err
	}
	if err := os.Link(s.blobPath(src), s.blobPath(id)); err != nil {
		return "", err
	}
	if err := s.syncDir(dir); err != nil {
		s.removeBlob(id)
		return "", err
	}
	return id, nil
}

// removeBlob deletes a blob no row names any more. A failure only leaks
// space until the next sweep, so it is logged, not returned.
func (s *store) removeBlob(id string) {
	if err := os.Remove(s.blobPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("local backend: removing an unused blob failed", "blob", id, "err", err)
	}
}

// sweep removes what a crash can leave behind: temp files, and blobs that
// were renamed into place but whose transaction never committed (or whose
// replacement did and the process died before removing them). Only files
// older than orphanAge are considered, so writes in flight, in this process
// or another, are safe.
func (s *store) sweep(ctx context.Context) error {
	cutoff := s.now().Add(-orphanAge)
	old := func(e fs.DirEntry) bool {
		info, err := e.Info()
		return err == nil && info.Mode().IsRegular() && info.ModTime().Before(cutoff)
	}
	var temps, blobs int

	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if old(e) && os.Remove(filepath.Join(s.tmp, e.Name())) == nil {
			temps++
		}
	}

	dirs, err := os.ReadDir(s.blobs)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.blobs, d.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !isBlobID(f.Name()) || f.Name()[:2] != d.Name() || !old(f) {
				continue
			}
			// An object or a KV value may name it.
			var used bool
			err := s.q().QueryRowContext(ctx, `SELECT
	EXISTS (SELECT 1 FROM r2_objects WHERE blob_id = ?1) OR
	EXISTS (SELECT 1 FROM kv_values WHERE blob_id = ?1)`, f.Name()).Scan(&used)
			if err != nil {
				return err
			}
			if !used && os.Remove(filepath.Join(s.blobs, d.Name(), f.Name())) == nil {
				blobs++
			}
		}
	}
	databases, err := s.sweepD1(ctx, old)
	if err != nil {
		return err
	}
	if temps+blobs+databases > 0 {
		s.log.Info("local backend: removed files left by an interrupted write", "data_dir", s.dir,
			"temp_files", temps, "blobs", blobs, "d1_files", databases)
	}
	return nil
}

// sweepD1 removes D1 database files that no catalogue row names: a create
// that died between making the file and committing its row, or a delete
// that died between committing and removing the files.
func (s *store) sweepD1(ctx context.Context, old func(fs.DirEntry) bool) (int, error) {
	dir := filepath.Join(s.dir, d1Dir)
	files, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, f := range files {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		id, ok := d1FileID(f.Name())
		if !ok || !old(f) {
			continue
		}
		var one int
		err := s.q().QueryRowContext(ctx, "SELECT 1 FROM d1_databases WHERE id = ?", id).Scan(&one)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if os.Remove(filepath.Join(dir, f.Name())) == nil {
				removed++
			}
		case err != nil:
			return removed, err
		}
	}
	return removed, nil
}

// d1FileID returns the database id of a file d1Path names (the database or
// its -journal, -wal or -shm), and false for any other name.
func d1FileID(name string) (string, bool) {
	for _, suffix := range []string{".sqlite", ".sqlite-journal", ".sqlite-wal", ".sqlite-shm"} {
		// Lowercase, as newUUID makes ids and d1Path names files.
		if id, ok := strings.CutSuffix(name, suffix); ok && storage.IsDatabaseID(id) && id == strings.ToLower(id) {
			return id, true
		}
	}
	return "", false
}
