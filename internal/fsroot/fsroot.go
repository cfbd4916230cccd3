// Package fsroot confines file paths chosen by an MCP client (in practice an
// AI model) to directories the operator allowed.
//
// Tool arguments such as file_path (a local file to upload) and save_to (where
// to write a download) come from an untrusted party, so the server touches
// such a file only through Roots.Open and Roots.Create. The path is made
// absolute, cleaned and its symbolic links resolved, and the resolved path
// must lie inside one of the allowed roots; that choice gives the errors a
// model can act on. The file is then opened, created and renamed through an
// os.Root on the allowed directory that holds it, so a local process that
// swaps a directory for a symlink between the check and the use (a TOCTOU
// race) cannot lead the server outside that directory: the operation fails
// instead.
package fsroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/winname"
)

// ErrNoRoots is returned by Open and Create when no root is
// configured. File access is opt-in, so an empty Roots refuses everything.
var ErrNoRoots = errors.New("file access is disabled: start the server with --files-root DIR (env CFSTORAGE_FILES_ROOT) or, over stdio, let the client announce roots")

// ErrOutside is matched (with errors.Is) by errors for paths that resolve
// outside every allowed root. The error text itself names the path and the
// roots so that a model can correct its request.
var ErrOutside = errors.New("path is outside the allowed directories")

// maxPathLen bounds accepted input. Longer paths cannot be opened on common
// systems anyway (PATH_MAX is 4096 on Linux), and the bound keeps the work
// done for a hostile input small.
const maxPathLen = 4096

// Roots is a set of allowed directories. The zero value has no roots and
// refuses all paths. A Roots is never modified after construction (With
// returns a new value), so it is safe for concurrent use.
type Roots struct {
	dirs []string // absolute, clean, symlink-free; order matters (see readPath)
}

// New returns Roots for dirs. Each dir is made absolute, cleaned and has its
// symlinks resolved, so that later containment checks compare real paths.
// A dir that does not exist or is not a directory is an error naming it, so a
// typo in --files-root fails at startup instead of silently refusing
// everything. New with no dirs returns an empty Roots and no error.
func New(dirs ...string) (Roots, error) {
	return Roots{}.With(dirs...)
}

// With returns a new Roots holding r's dirs followed by dirs (validated as in
// New, duplicates dropped). r itself is unchanged. It exists so roots
// announced by the MCP client can be added to the --files-root ones.
func (r Roots) With(dirs ...string) (Roots, error) {
	out := slices.Clone(r.dirs)
	for _, d := range dirs {
		res, err := resolveRoot(d)
		if err != nil {
			return Roots{}, err
		}
		if !slices.Contains(out, res) {
			out = append(out, res)
		}
	}
	return Roots{dirs: out}, nil
}

func resolveRoot(d string) (string, error) {
	if d == "" {
		return "", errors.New("files root: empty directory name")
	}
	if strings.IndexByte(d, 0) >= 0 {
		return "", fmt.Errorf("files root %s: contains a NUL byte", quote(d))
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return "", fmt.Errorf("files root %s: %w", quote(d), err)
	}
	res, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("files root %s: %w", quote(d), bare(err))
	}
	fi, err := os.Stat(res)
	if err != nil {
		return "", fmt.Errorf("files root %s: %w", quote(d), bare(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("files root %s is not a directory", quote(d))
	}
	return res, nil
}

// Empty reports whether r has no roots, i.e. file access is disabled.
func (r Roots) Empty() bool { return len(r.dirs) == 0 }

// Dirs returns a copy of the resolved root directories, in order.
func (r Roots) Dirs() []string { return slices.Clone(r.dirs) }

// Open opens p, a file the server is about to read (an upload), for reading.
// p is checked as readPath says, then opened through an os.Root on the
// allowed directory that holds it.
func (r Roots) Open(p string) (*os.File, error) {
	res, err := r.readPath(p)
	if err != nil {
		return nil, err
	}
	dir, rel := r.locate(res)
	return r.openIn(p, dir, rel)
}

// openIn opens rel inside the allowed directory dir through an os.Root: a
// component of rel swapped for a symbolic link since readPath resolved it
// may lead elsewhere inside dir, never out of it. The file must still be a
// regular file once open.
func (r Roots) openIn(p, dir, rel string) (*os.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", quote(p), bare(err))
	}
	defer root.Close()
	f, err := root.OpenFile(rel, readFlags, 0)
	if err != nil {
		return nil, r.refusal("read", p, filepath.Join(dir, rel), err)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("cannot read %s: %w", quote(p), bare(err))
	case !fi.Mode().IsRegular():
		f.Close()
		return nil, fmt.Errorf("cannot read %s: it is not a regular file", quote(p))
	}
	return f, nil
}

// Create starts an atomic write of p, a file the server is about to create
// (a download). p is checked as writePath says; without overwrite an
// existing file is refused with an error matching ErrExists, here and, race
// free, at Commit. The returned AtomicFile works through an os.Root on the
// allowed directory that holds p.
func (r Roots) Create(p string, overwrite bool) (*AtomicFile, error) {
	final, err := r.writePath(p)
	if err != nil {
		return nil, err
	}
	return r.createAt(p, final, overwrite)
}

// createAt is Create for final, the path writePath resolved p to.
func (r Roots) createAt(p, final string, overwrite bool) (*AtomicFile, error) {
	dir, rel := r.locate(final)
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot write %s: %w", quote(p), bare(err))
	}
	af, err := openAtomic(root, rel, final, overwrite)
	if err != nil {
		if errors.Is(err, ErrExists) || !r.escapes(final) {
			return nil, err
		}
		return nil, r.outside(p)
	}
	return af, nil
}

// locate returns the first root holding the resolved path res and res
// relative to it. res comes from readPath or writePath, so a root holds it.
func (r Roots) locate(res string) (dir, rel string) {
	for _, d := range r.dirs {
		if within(d, res) {
			rel, err := filepath.Rel(d, res)
			if err == nil {
				return d, rel
			}
		}
	}
	// Unreachable after a successful check; an os.Root on "" fails.
	return "", res
}

// refusal reports that verb on p, whose absolute path is abs, failed with
// err: as outside the roots when abs now leads out of them (a symlink
// swapped in since the check), else with err's reason.
func (r Roots) refusal(verb, p, abs string, err error) error {
	if r.escapes(abs) {
		return r.outside(p)
	}
	return fmt.Errorf("cannot %s %s: %w", verb, quote(p), bare(err))
}

// readPath checks p, a file the server is about to read, and returns its
// resolved path.
//
// A relative p is resolved against the FIRST root, so a model can say
// "report.pdf" when there is one obvious directory. ".." is applied
// lexically before symlinks are resolved. The file must exist and be a
// regular file (directories, devices and FIFOs are refused: reading them
// makes no sense for an upload and could block), and its fully resolved path
// must be inside a root.
func (r Roots) readPath(p string) (string, error) {
	clean, err := r.absolute(p)
	if err != nil {
		return "", err
	}
	res, err := filepath.EvalSymlinks(clean)
	if err != nil {
		// Report "outside" rather than "does not exist" when the path
		// leads out of the roots, so errors do not reveal which files
		// exist elsewhere.
		if r.escapes(clean) {
			return "", r.outside(p)
		}
		return "", fmt.Errorf("cannot read %s: %w", quote(p), bare(err))
	}
	if !r.contains(res) {
		return "", r.outside(p)
	}
	fi, err := os.Stat(res)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", quote(p), bare(err))
	}
	if fi.IsDir() {
		return "", fmt.Errorf("cannot read %s: it is a directory, not a file", quote(p))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("cannot read %s: it is not a regular file", quote(p))
	}
	return res, nil
}

// writePath checks p, a file the server is about to create or overwrite, and
// returns the resolved path to write to.
//
// Relative paths are resolved against the first root, as in readPath. The
// file need not exist, but its parent directory must (nothing is created
// here). The parent's symlinks are resolved; if the final element is an
// existing symlink it is followed and its target is what gets checked and
// returned, so a link inside a root cannot redirect the write elsewhere; a
// symlink whose target cannot be resolved is refused. The result must be
// inside a root and must not be a root, a directory or a non-regular file.
// A path ending in a separator is refused because it names a directory.
func (r Roots) writePath(p string) (string, error) {
	clean, err := r.absolute(p)
	if err != nil {
		return "", err
	}
	q := quote(p)
	dir, base := filepath.Split(clean)
	if base == "" { // clean is a file-system root such as "/"
		if !r.contains(clean) {
			return "", r.outside(p)
		}
		return "", fmt.Errorf("cannot write %s: it is a directory, not a file", q)
	}
	if os.IsPathSeparator(p[len(p)-1]) {
		return "", fmt.Errorf("cannot write %s: it ends with a path separator; give a file name, not a directory", q)
	}
	resDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		if r.escapes(dir) {
			return "", r.outside(p)
		}
		return "", fmt.Errorf("cannot write %s: its directory cannot be used: %w", q, bare(err))
	}
	target := filepath.Join(resDir, base)
	final := target
	fi, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A new file; checked below.
	case err != nil:
		if r.escapes(target) {
			return "", r.outside(p)
		}
		return "", fmt.Errorf("cannot write %s: %w", q, bare(err))
	case fi.Mode()&fs.ModeSymlink != 0:
		res, err := filepath.EvalSymlinks(target)
		if err != nil {
			if r.escapes(target) {
				return "", r.outside(p)
			}
			return "", fmt.Errorf("cannot write %s: it is a symbolic link whose target cannot be resolved: %w", q, bare(err))
		}
		final = res
	}
	if !r.contains(final) {
		return "", r.outside(p)
	}
	if slices.Contains(r.dirs, final) {
		return "", fmt.Errorf("cannot write %s: it is an allowed root directory itself, not a file", q)
	}
	fi, err = os.Stat(final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return final, nil
	case err != nil:
		return "", fmt.Errorf("cannot write %s: %w", q, bare(err))
	case fi.IsDir():
		return "", fmt.Errorf("cannot write %s: it is a directory, not a file", q)
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("cannot write %s: it exists and is not a regular file", q)
	}
	return final, nil
}

// absolute validates p and returns it absolute and clean, relative paths
// being joined to the first root.
func (r Roots) absolute(p string) (string, error) {
	if len(r.dirs) == 0 {
		return "", ErrNoRoots
	}
	switch {
	case p == "":
		return "", errors.New("path is empty: give a file path")
	case strings.IndexByte(p, 0) >= 0:
		return "", fmt.Errorf("invalid path %s: it contains a NUL byte", quote(p))
	case len(p) > maxPathLen:
		return "", fmt.Errorf("invalid path %s: it is longer than %d bytes", quote(p), maxPathLen)
	}
	if err := checkNames(p, runtime.GOOS == "windows"); err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		return filepath.Join(r.dirs[0], p), nil
	}
	return filepath.Clean(p), nil
}

// checkNames refuses, when windows is set, a path with an element Windows
// would not read as an ordinary file name: a device (CON, NUL, COM1, ...)
// that would read from or write to the device, a trailing dot or space that
// Windows drops (so "report.pdf." would replace report.pdf), or a character
// such as ':' that selects an alternate data stream. Both '/' and '\' are
// separators there, and a leading drive letter ("C:") is not an element.
// It takes windows as a parameter so that the rule is tested everywhere.
func checkNames(p string, windows bool) error {
	if !windows {
		return nil
	}
	rest := p
	if len(rest) >= 2 && rest[1] == ':' && ('a' <= rest[0]|0x20 && rest[0]|0x20 <= 'z') {
		rest = rest[2:]
	}
	for elem := range strings.FieldsFuncSeq(rest, func(r rune) bool { return r == '/' || r == '\\' }) {
		if why := winname.Problem(elem); why != "" {
			return fmt.Errorf("invalid path %s: %s: %s", quote(p), quote(elem), why)
		}
	}
	return nil
}

// contains reports whether the resolved path p is inside (or equal to) a root.
func (r Roots) contains(p string) bool {
	for _, d := range r.dirs {
		if within(d, p) {
			return true
		}
	}
	return false
}

// within reports whether p is root or below it. Both must be absolute and
// clean. A plain string prefix test would accept /data2 for root /data, and
// a test for a leading ".." would refuse a file named "..foo"; comparing
// whole path elements via filepath.Rel avoids both mistakes.
func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	if err != nil || filepath.IsAbs(rel) {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// escapes reports whether the absolute clean path p, which could not be
// fully resolved, leads outside the roots. It only chooses between an
// "outside" and a "does not exist" refusal (so errors do not reveal which
// files exist outside the roots); access decisions rely on
// filepath.EvalSymlinks alone.
func (r Roots) escapes(p string) bool {
	return !r.contains(resolveExisting(p))
}

// resolveExisting resolves the symlinks of the absolute clean path p as far
// as it exists, following dangling links too, and appends the missing
// remainder lexically. It mirrors filepath.EvalSymlinks but tolerates a
// missing tail.
func resolveExisting(p string) string {
	const sep = string(filepath.Separator)
	vol := filepath.VolumeName(p)
	done, rest := vol+sep, p[len(vol):]
	links := 0
	for rest != "" {
		var name string
		name, rest, _ = strings.Cut(rest, sep)
		switch name {
		case "", ".":
			continue
		case "..":
			done = filepath.Dir(done)
			continue
		}
		next := filepath.Join(done, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return filepath.Join(next, rest)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = next
			continue
		}
		links++
		dest, err := os.Readlink(next)
		if err != nil || links > 255 {
			return filepath.Join(next, rest)
		}
		if filepath.IsAbs(dest) {
			v := filepath.VolumeName(dest)
			done, dest = v+sep, dest[len(v):]
		}
		rest = dest + sep + rest
	}
	return done
}

func (r Roots) outside(p string) error {
	return &outsideError{path: p, dirs: r.dirs, relative: !filepath.IsAbs(p)}
}

// outsideError carries its own text (naming the path and the roots, so a
// model can retry with a valid path) and matches ErrOutside.
type outsideError struct {
	path     string
	dirs     []string
	relative bool
}

func (e *outsideError) Error() string {
	msg := fmt.Sprintf("path %s is outside the allowed directories (%s)", quote(e.path), strings.Join(e.dirs, ", "))
	if e.relative {
		msg += "; relative paths are resolved against " + e.dirs[0]
	}
	return msg
}

func (e *outsideError) Unwrap() error { return ErrOutside }

// bare drops the path from an *fs.PathError: the path it names is the
// resolved one, which may lie outside the roots and should not be echoed.
// errors.Is(err, fs.ErrNotExist) still works on the result.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// quote quotes a path for an error message, truncating very long input.
func quote(p string) string {
	const limit = 200
	if len(p) > limit {
		return strconv.Quote(p[:limit]) + "...(truncated)"
	}
	return strconv.Quote(p)
}
