package fsroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/durable"
)

// AtomicFile writes a file so that readers see either the old content or the
// complete new content, never a partial download: data goes to a temporary
// file in the same directory (same file system, so rename is atomic), which
// Commit moves to the destination. Every step goes through an os.Root on the
// allowed directory that holds the destination, so a directory swapped for a
// symbolic link meanwhile cannot send the file outside it. It is not safe
// for concurrent use.
//
// Typical use:
//
//	af, err := roots.Create(path, overwrite)
//	if err != nil { ... }
//	defer af.Abort() // no-op after a successful Commit
//	if _, err := io.Copy(af, body); err != nil { return err }
//	return af.Commit()
type AtomicFile struct {
	f         *os.File
	root      *os.Root // the allowed directory holding the destination
	rel       string   // the destination, relative to root
	tmp       string   // the temporary file, relative to root
	path      string   // the destination's full path, for messages
	overwrite bool
	// link gives the temporary file the destination's name without
	// replacing anything (root.Link); a field so tests can take it away.
	link      func(oldname, newname string) error
	done      bool // Commit or Abort was called
	committed bool
	// w writes f, starting the writeback of each chunk as it goes.
	w *durable.Writer
}

// ErrExists is matched (with errors.Is) by the error of Create and Commit
// when the destination exists and overwrite is false. It is fs.ErrExist.
var ErrExists = fs.ErrExist

// openAtomic starts writing rel inside root; path is its full path, for
// messages. Without overwrite an existing destination is refused here, to
// fail before a download, and again by Commit, which alone decides. The
// temporary file is created with mode 0600 (a download may be private); on
// an overwrite the permission bits of the file replaced are copied, best
// effort. openAtomic takes ownership of root: it is closed on error, or by
// Commit or Abort.
func openAtomic(root *os.Root, rel, path string, overwrite bool) (*AtomicFile, error) {
	fail := func(err error) (*AtomicFile, error) {
		root.Close()
		return nil, err
	}
	fi, err := root.Stat(rel)
	switch {
	case err == nil && fi.IsDir():
		return fail(fmt.Errorf("cannot write %s: it is a directory, not a file", quote(path)))
	case err == nil && !overwrite:
		return fail(existsError(path))
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return fail(fmt.Errorf("cannot write %s: %w", quote(path), bare(err)))
	}
	dir, base := filepath.Split(rel)
	if base == "" {
		return fail(fmt.Errorf("cannot write %s: no file name", quote(path)))
	}
	var f *os.File
	var tmp string
	for range 100 {
		tmp = filepath.Join(dir, "."+shorten(base, 64)+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err = root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fail(fmt.Errorf("cannot write %s: creating temporary file: %w", quote(path), bare(err)))
	}
	if fi != nil && fi.Mode().IsRegular() {
		_ = f.Chmod(fi.Mode().Perm()) // best effort: some file systems refuse
	}
	return &AtomicFile{f: f, root: root, rel: rel, tmp: tmp, path: path, overwrite: overwrite, link: root.Link,
		w: durable.NewWriter(f)}, nil
}

// existsError refuses to replace path; it matches ErrExists.
func existsError(path string) error {
	return fmt.Errorf("cannot write %s: %w", quote(path), ErrExists)
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

// Path is the full path of the destination, its symbolic links resolved.
func (a *AtomicFile) Path() string { return a.path }

// Write writes to the temporary file. After Commit or Abort it returns
// os.ErrClosed. It starts the writeback of the data as it arrives
// (durable.Writer): that overlap is what puts save_to at or below a plain
// copy followed by one fsync.
func (a *AtomicFile) Write(p []byte) (int, error) {
	if a.done {
		return 0, fmt.Errorf("write %s: %w", quote(a.path), os.ErrClosed)
	}
	return a.w.Write(p)
}

// copyBuffer is the chunk ReadFrom copies in.
const copyBuffer = 256 << 10

// ReadFrom copies r into the file (io.Copy calls it) in chunks of
// copyBuffer bytes, through Write: io.Copy's own 32 KiB would make a large
// download cost eight times the system calls, reading and writing.
func (a *AtomicFile) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := a.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return total, nil
		case rerr != nil:
			return total, rerr
		}
	}
}

// Commit makes the written data durable and visible at the destination:
// fsync the temporary file, close it, move it to the destination, then fsync
// the directory so the move itself survives a crash. With overwrite the move
// is a rename over whatever is there; without, it never replaces a file,
// even one created after openAtomic (see placeNew), and fails matching
// ErrExists. If the move fails, the temporary file is removed and the
// destination is untouched. Calling Commit twice, or after Abort, is an
// error.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: %w", quote(a.path), os.ErrClosed)
	}
	a.done = true
	defer a.root.Close()
	a.w.Wait()
	if err := a.f.Sync(); err != nil {
		_ = a.f.Close()
		_ = a.root.Remove(a.tmp)
		return fmt.Errorf("cannot write %s: flushing data: %w", quote(a.path), bare(err))
	}
	if err := a.f.Close(); err != nil {
		_ = a.root.Remove(a.tmp)
		return fmt.Errorf("cannot write %s: %w", quote(a.path), bare(err))
	}
	var err error
	if a.overwrite {
		err = a.root.Rename(a.tmp, a.rel)
	} else {
		err = a.placeNew()
	}
	if err != nil {
		_ = a.root.Remove(a.tmp)
		if errors.Is(err, fs.ErrExist) {
			return existsError(a.path)
		}
		return fmt.Errorf("cannot write %s: %w", quote(a.path), linkErr(err))
	}
	a.committed = true
	if err := durable.SyncDirIn(a.root, filepath.Dir(a.rel)); err != nil {
		return fmt.Errorf("saved %s but could not flush its directory: %w", quote(a.path), bare(err))
	}
	return nil
}

// placeNew gives the temporary file the destination's name only if no file
// has it, in one step of the file system: a hard link fails with EEXIST
// instead of replacing. (Checking first and renaming after would replace a
// file created in between.) Where hard links are not supported (FAT, some
// network file systems) the name is claimed by an exclusive create and the
// temporary file renamed over the claim.
func (a *AtomicFile) placeNew() error {
	err := a.link(a.tmp, a.rel)
	if err == nil {
		// The data is in place; a temporary name left behind by a
		// failed remove is only clutter.
		_ = a.root.Remove(a.tmp)
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	claim, cerr := a.root.OpenFile(a.rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if cerr != nil {
		if errors.Is(cerr, fs.ErrExist) {
			return cerr
		}
		return errors.Join(err, cerr)
	}
	_ = claim.Close()
	if err := a.root.Rename(a.tmp, a.rel); err != nil {
		_ = a.root.Remove(a.rel)
		return err
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
	defer a.root.Close()
	a.w.Wait()
	cerr := a.f.Close()
	rerr := a.root.Remove(a.tmp)
	if err := errors.Join(cerr, rerr); err != nil {
		return fmt.Errorf("discarding temporary file for %s: %w", quote(a.path), err)
	}
	return nil
}

// linkErr drops the paths from an *os.LinkError (rename's and link's error
// type).
func linkErr(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
