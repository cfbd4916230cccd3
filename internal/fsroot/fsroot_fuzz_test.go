package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzSeeds are hostile inputs: escapes, absolute paths, the fixture's
// symlink names, NUL bytes, separators and very long strings.
var fuzzSeeds = []string{
	"", ".", "..", "../", "/", "//", "///etc//passwd", "/etc/passwd", "/etc/",
	"../outside/secret.txt", "../../../../../../etc/passwd", "sub/../../outside/secret.txt",
	"./a.txt", "a.txt", "a.txt/", "a.txt/x", "sub", "sub/", "sub/b.txt", "sub/link-up", "..foo",
	"../root2/secret.txt", "../root2", "link-in", "link-out-file", "link-out-dir/secret.txt",
	"link-out-dir/../a.txt", "link-out-dir/nope/x", "link-root2/secret.txt",
	"dangling-in", "dangling-out", "loop", "loop/x", "nodir/new.txt",
	"..\x00", "a.txt\x00", "\x00", "a\x00/../../etc/passwd",
	"\\..\\..\\outside", "C:\\Windows\\win.ini", "~/.ssh/id_rsa", "$HOME/.bashrc", "%2e%2e/",
	"\u202e" + "txt.exe", "\xff\xfe", strings.Repeat("a/", 2047) + "x",
	strings.Repeat("../", 1400), strings.Repeat("x", 70000),
	strings.Repeat("link-in/", 300), strings.Repeat("loop/", 800),
}

// fuzzPaths runs call on s both as given (relative inputs land under the
// first root) and appended to the root's absolute path, and asserts that
// any accepted path is inside the root; check adds per-function assertions.
func fuzzPaths(f *testing.F, call func(Roots, string) (string, error), check func(t *testing.T, in, got string)) {
	fx := newFixture(f)
	r, err := New(fx.root)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, in := range []string{s, fx.root + string(filepath.Separator) + s} {
			got, err := call(r, in)
			if err != nil {
				if got != "" {
					t.Fatalf("(%q) returned %q with error %v", in, got, err)
				}
				if errors.Is(err, ErrNoRoots) {
					t.Fatalf("(%q) = ErrNoRoots with a root configured", in)
				}
				continue
			}
			if !filepath.IsAbs(got) || filepath.Clean(got) != got {
				t.Fatalf("(%q) = %q, not absolute and clean", in, got)
			}
			rel, err := filepath.Rel(fx.root, got)
			if err != nil || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				t.Fatalf("(%q) = %q, outside root %q (rel %q, %v)", in, got, fx.root, rel, err)
			}
			if !strings.HasPrefix(got, fx.root+string(filepath.Separator)) {
				t.Fatalf("(%q) = %q, not strictly below root %q", in, got, fx.root)
			}
			check(t, in, got)
		}
	})
}

func FuzzReadPath(f *testing.F) {
	fuzzPaths(f, Roots.readPath, func(t *testing.T, in, got string) {
		if res, err := filepath.EvalSymlinks(got); err != nil || res != got {
			t.Fatalf("readPath(%q) = %q, which resolves to %q, %v", in, got, res, err)
		}
		if fi, err := os.Stat(got); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("readPath(%q) = %q, not a regular file (%v)", in, got, err)
		}
	})
}

func FuzzWritePath(f *testing.F) {
	fuzzPaths(f, Roots.writePath, func(t *testing.T, in, got string) {
		// The directory must be real and inside; the file new or regular.
		dir := filepath.Dir(got)
		if res, err := filepath.EvalSymlinks(dir); err != nil || res != dir {
			t.Fatalf("writePath(%q) = %q, whose directory resolves to %q, %v", in, got, res, err)
		}
		fi, err := os.Lstat(got)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			t.Fatalf("writePath(%q) = %q: %v", in, got, err)
		case !fi.Mode().IsRegular():
			t.Fatalf("writePath(%q) = %q, existing non-regular file (%v)", in, got, fi.Mode())
		}
	})
}
