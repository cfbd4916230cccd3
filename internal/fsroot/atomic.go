package fsroot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unicode/utf8"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/durable"
)

// AtomicFile writes a file so that readers see either the old content or the
// complete new content, never a partial download: data goes to a temporary
// file in the same directory (same file system, so rename is atomic), which
// Commit renames over the destination. It is not safe for concurrent use.
//
// Typical use:
//
//	af, err := fsroot.OpenAtomic(path) // path from Roots.WritePath
//	if err != nil { ... }
//	defer af.Abort() // no-op after a successful Commit
//	if _, err := io.Copy(af, body); err != nil { return err }
//	return af.Commit()
type AtomicFile struct {
	f         *os.File
	path      string
	done      bool // Commit or Abort was called
	committed bool
}

// OpenAtomic starts writing path. path should come from Roots.WritePath; its
// directory must exist. The temporary file is created with mode 0600 (a
// download may be private); when path already exists as a regular file its
// permission bits are copied, best effort, so an overwrite keeps them.
func OpenAtomic(path string) (*AtomicFile, error) {
	fi, err := os.Stat(path)
	if err == nil && fi.IsDir() {
		return nil, fmt.Errorf("cannot write %s: it is a directory, not a file", quote(path))
	}
	dir, base := filepath.Split(path)
	if base == "" {
		return nil, fmt.Errorf("cannot write %s: no file name", quote(path))
	}
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+shorten(base, 64)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: creating temporary file: %w", quote(path), bare(err))
	}
	if fi != nil && fi.Mode().IsRegular() {
		_ = f.Chmod(fi.Mode().Perm()) // best effort: some file systems refuse
	}
	return &AtomicFile{f: f, path: path}, nil
}

// shorten cuts s to at most n bytes on a UTF-8 boundary, so the temporary
// name stays within NAME_MAX however long the final name is.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Write writes to the temporary file. After Commit or Abort it returns
// os.ErrClosed.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.done {
		return 0, fmt.Errorf("write %s: %w", quote(a.path), os.ErrClosed)
	}
	return a.f.Write(p)
}

// Commit makes the written data durable and visible at the destination:
// fsync the temporary file, close it, rename it over the destination, then
// fsync the directory so the rename itself survives a crash. If anything
// before the rename fails, the temporary file is removed and the destination
// is untouched. Calling Commit twice, or after Abort, is an error.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: %w", quote(a.path), os.ErrClosed)
	}
	a.done = true
	tmp := a.f.Name()
	if err := a.f.Sync(); err != nil {
		_ = a.f.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot write %s: flushing data: %w", quote(a.path), bare(err))
	}
	if err := a.f.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot write %s: %w", quote(a.path), bare(err))
	}
	if err := os.Rename(tmp, a.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("cannot write %s: %w", quote(a.path), linkErr(err))
	}
	a.committed = true
	if err := durable.SyncDir(filepath.Dir(a.path)); err != nil {
		return fmt.Errorf("saved %s but could not flush its directory: %w", quote(a.path), bare(err))
	}
	return nil
}

// Abort discards the temporary file and leaves the destination untouched.
// It is idempotent and a no-op after Commit, so it can always be deferred.
func (a *AtomicFile) Abort() error {
	if a.done {
		return nil
	}
	a.done = true
	tmp := a.f.Name()
	cerr := a.f.Close()
	rerr := os.Remove(tmp)
	if err := errors.Join(cerr, rerr); err != nil {
		return fmt.Errorf("discarding temporary file for %s: %w", quote(a.path), err)
	}
	return nil
}

// linkErr drops the paths from an *os.LinkError (rename's error type).
func linkErr(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
