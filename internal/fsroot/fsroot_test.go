package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fixture is a temporary tree:
//
//	base/root/            the allowed root
//	  a.txt, ..foo, sub/b.txt
//	  link-in       -> a.txt             (inside)
//	  sub/link-up   -> ../a.txt          (inside)
//	  link-out-file -> base/outside/secret.txt
//	  link-out-dir  -> base/outside
//	  link-root2    -> base/root2
//	  dangling-in   -> nope              (missing, inside)
//	  dangling-out  -> base/outside/nope (missing, outside)
//	  loop          -> loop
//	base/root2/secret.txt                (sibling sharing the "root" prefix)
//	base/outside/secret.txt
type fixture struct {
	base, root, root2, outside string
	symlinks                   bool // false where symlinks cannot be made
}

func newFixture(tb testing.TB) fixture {
	tb.Helper()
	base, err := filepath.EvalSymlinks(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	fx := fixture{
		base:    base,
		root:    filepath.Join(base, "root"),
		root2:   filepath.Join(base, "root2"),
		outside: filepath.Join(base, "outside"),
	}
	for _, d := range []string{fx.root, filepath.Join(fx.root, "sub"), fx.root2, fx.outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{
		filepath.Join(fx.root, "a.txt"),
		filepath.Join(fx.root, "..foo"),
		filepath.Join(fx.root, "sub", "b.txt"),
		filepath.Join(fx.root2, "secret.txt"),
		filepath.Join(fx.outside, "secret.txt"),
	} {
		if err := os.WriteFile(f, []byte("data of "+f), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	links := [][2]string{
		{"a.txt", "link-in"},
		{filepath.Join("..", "a.txt"), filepath.Join("sub", "link-up")},
		{filepath.Join(fx.outside, "secret.txt"), "link-out-file"},
		{fx.outside, "link-out-dir"},
		{fx.root2, "link-root2"},
		{"nope", "dangling-in"},
		{filepath.Join(fx.outside, "nope"), "dangling-out"},
		{"loop", "loop"},
	}
	fx.symlinks = true
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(fx.root, l[1])); err != nil {
			if runtime.GOOS == "windows" {
				fx.symlinks = false
				break
			}
			tb.Fatal(err)
		}
	}
	return fx
}

// expand replaces {root}, {base} and {outside} in a test input.
func (fx fixture) expand(s string) string {
	return strings.NewReplacer("{root}", fx.root, "{base}", fx.base, "{outside}", fx.outside).Replace(s)
}

type pathCase struct {
	name    string
	in      string // may contain {root}, {base}, {outside}
	want    string // on success: expected result relative to root
	wantIs  error  // on failure: sentinel the error must match, if any
	wantMsg string // on failure: substring the message must contain, if any
	symlink bool   // needs the fixture's symlinks
}

func runPathCases(t *testing.T, cases []pathCase, check func(Roots, string) (string, error)) {
	t.Helper()
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.symlink && !fx.symlinks {
				t.Skip("symlinks not available")
			}
			in := fx.expand(tc.in)
			got, err := check(r, in)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("(%q) unexpected error: %v", in, err)
				}
				if want := filepath.Join(fx.root, filepath.FromSlash(tc.want)); got != want {
					t.Fatalf("(%q) = %q, want %q", in, got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("(%q) = %q, want an error", in, got)
			}
			if got != "" {
				t.Errorf("(%q) returned path %q together with error %v", in, got, err)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("(%q) error %q does not match %v", in, err, tc.wantIs)
			}
			if tc.wantIs == nil && errors.Is(err, ErrOutside) {
				t.Errorf("(%q) error %q unexpectedly matches ErrOutside", in, err)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("(%q) error %q does not contain %q", in, err, tc.wantMsg)
			}
			if !strings.Contains(in, fx.outside) && strings.Contains(err.Error(), fx.outside) {
				t.Errorf("(%q) error %q reveals the outside directory", in, err)
			}
		})
	}
}

// Cases shared by readPath and writePath: both must refuse these.
var hostileCases = []pathCase{
	{name: "dotdot escape", in: "../outside/secret.txt", wantIs: ErrOutside},
	{name: "deep dotdot escape", in: "sub/../../outside/secret.txt", wantIs: ErrOutside},
	{name: "many dotdots to /etc/passwd", in: strings.Repeat("../", 64) + "etc/passwd", wantIs: ErrOutside},
	{name: "absolute outside", in: "{outside}/secret.txt", wantIs: ErrOutside},
	{name: "absolute /etc/passwd", in: "/etc/passwd", wantIs: ErrOutside},
	{name: "sibling prefix dir absolute", in: "{base}/root2/secret.txt", wantIs: ErrOutside},
	{name: "sibling prefix dir relative", in: "../root2/secret.txt", wantIs: ErrOutside},
	{name: "sibling prefix by string concat", in: "{root}2/secret.txt", wantIs: ErrOutside},
	{name: "symlink to outside file", in: "link-out-file", wantIs: ErrOutside, symlink: true},
	{name: "through symlinked dir", in: "link-out-dir/secret.txt", wantIs: ErrOutside, symlink: true},
	{name: "through symlinked dir to sibling", in: "link-root2/secret.txt", wantIs: ErrOutside, symlink: true},
	{name: "missing file through symlinked dir", in: "link-out-dir/nope/x.txt", wantIs: ErrOutside, symlink: true},
	{name: "dangling symlink to outside", in: "dangling-out", wantIs: ErrOutside, symlink: true},
	{name: "directory", in: "sub/.", wantMsg: "directory"},
	{name: "root itself", in: "{root}", wantMsg: "directory"},
	{name: "dot", in: ".", wantMsg: "directory"},
	{name: "empty", in: "", wantMsg: "empty"},
	{name: "NUL byte", in: "a.txt\x00.jpg", wantMsg: "NUL"},
	{name: "dotdot NUL", in: "..\x00", wantMsg: "NUL"},
	{name: "very long", in: strings.Repeat("a/", 5000) + "x", wantMsg: "longer than"},
	{name: "symlink loop", in: "loop", symlink: true},
}

func TestReadPath(t *testing.T) {
	cases := append([]pathCase{
		{name: "relative inside", in: "a.txt", want: "a.txt"},
		{name: "absolute inside", in: "{root}/sub/b.txt", want: "sub/b.txt"},
		{name: "dotdot staying inside", in: "sub/../a.txt", want: "a.txt"},
		{name: "redundant slashes", in: "sub//./b.txt", want: "sub/b.txt"},
		{name: "name starting with dots", in: "..foo", want: "..foo"},
		{name: "symlink inside to inside", in: "link-in", want: "a.txt", symlink: true},
		{name: "relative symlink in subdir", in: "sub/link-up", want: "a.txt", symlink: true},
		{name: "missing file inside", in: "nope.txt", wantIs: fs.ErrNotExist},
		{name: "dangling symlink inside", in: "dangling-in", wantIs: fs.ErrNotExist, symlink: true},
	}, hostileCases...)
	runPathCases(t, cases, Roots.readPath)
}

func TestWritePath(t *testing.T) {
	cases := append([]pathCase{
		{name: "new file relative", in: "new.txt", want: "new.txt"},
		{name: "new file in subdir", in: "{root}/sub/new.txt", want: "sub/new.txt"},
		{name: "overwrite existing", in: "a.txt", want: "a.txt"},
		{name: "name starting with dots", in: "..foo", want: "..foo"},
		{name: "lexical dotdot through outside link stays inside", in: "link-out-dir/../new.txt", want: "new.txt", symlink: true},
		{name: "symlink inside to inside", in: "link-in", want: "a.txt", symlink: true},
		{name: "new file via symlinked outside dir", in: "link-out-dir/new.txt", wantIs: ErrOutside, symlink: true},
		{name: "new file outside", in: "{outside}/new.txt", wantIs: ErrOutside},
		{name: "new file in sibling", in: "../root2/new.txt", wantIs: ErrOutside},
		{name: "file system root", in: "/", wantIs: ErrOutside},
		{name: "directory", in: "sub", wantMsg: "directory"},
		{name: "trailing slash", in: "newdir/", wantMsg: "separator"},
		{name: "parent missing", in: "nodir/new.txt", wantIs: fs.ErrNotExist},
		{name: "parent is a file", in: "a.txt/new.txt", wantMsg: "not a directory"},
		{name: "dangling symlink inside", in: "dangling-in", wantMsg: "symbolic link", symlink: true},
	}, hostileCases...)
	runPathCases(t, cases, Roots.writePath)
}

func TestNoRoots(t *testing.T) {
	fx := newFixture(t)
	empty, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Roots{"zero value": {}, "New()": empty} {
		if !r.Empty() {
			t.Errorf("%s: Empty() = false", name)
		}
		if d := r.Dirs(); len(d) != 0 {
			t.Errorf("%s: Dirs() = %q", name, d)
		}
		for _, p := range []string{"a.txt", filepath.Join(fx.root, "a.txt"), ""} {
			if _, err := r.readPath(p); !errors.Is(err, ErrNoRoots) {
				t.Errorf("%s: readPath(%q) error = %v, want ErrNoRoots", name, p, err)
			}
			if _, err := r.writePath(p); !errors.Is(err, ErrNoRoots) {
				t.Errorf("%s: writePath(%q) error = %v, want ErrNoRoots", name, p, err)
			}
		}
	}
	if !strings.Contains(ErrNoRoots.Error(), "--files-root") {
		t.Errorf("ErrNoRoots does not tell how to enable access: %q", ErrNoRoots)
	}
}

func TestNew(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct {
		name    string
		dir     string
		wantMsg string
	}{
		{"missing", filepath.Join(fx.base, "missing"), "missing"},
		{"file", filepath.Join(fx.root, "a.txt"), "not a directory"},
		{"empty", "", "empty"},
		{"NUL", "a\x00b", "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(fx.root, tc.dir)
			if err == nil {
				t.Fatalf("New(%q) = %v, want an error", tc.dir, r.Dirs())
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			if !r.Empty() {
				t.Errorf("New returned roots %q with an error", r.Dirs())
			}
		})
	}

	t.Run("relative dir made absolute", func(t *testing.T) {
		t.Chdir(fx.base)
		r, err := New("root", "./root2/../root2")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := r.Dirs(), []string{fx.root, fx.root2}; !slices.Equal(got, want) {
			t.Errorf("Dirs() = %q, want %q", got, want)
		}
	})

	t.Run("symlinked dir resolved", func(t *testing.T) {
		link := filepath.Join(fx.base, "rootlink")
		if err := os.Symlink(fx.root, link); err != nil {
			t.Skip("symlinks not available:", err)
		}
		r, err := New(link)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Dirs(); !slices.Equal(got, []string{fx.root}) {
			t.Errorf("Dirs() = %q, want [%q]", got, fx.root)
		}
		// A path given through the unresolved root form is accepted.
		got, err := r.readPath(filepath.Join(link, "a.txt"))
		if want := filepath.Join(fx.root, "a.txt"); err != nil || got != want {
			t.Errorf("readPath via link = %q, %v; want %q", got, err, want)
		}
		// And a missing file under it reports "not exist", not "outside".
		if _, err := r.readPath(filepath.Join(link, "nope")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("readPath(missing via link) error = %v, want not-exist", err)
		}
	})
}

func TestWithIsImmutable(t *testing.T) {
	fx := newFixture(t)
	r1, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := r1.With(fx.root2)
	if err != nil {
		t.Fatal(err)
	}
	r3, err := r2.With(fx.root, fx.outside) // fx.root is a duplicate
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r2.With(filepath.Join(fx.base, "missing")); err == nil {
		t.Error("With(missing) succeeded")
	}
	if got := r1.Dirs(); !slices.Equal(got, []string{fx.root}) {
		t.Errorf("r1.Dirs() = %q after With", got)
	}
	if got := r2.Dirs(); !slices.Equal(got, []string{fx.root, fx.root2}) {
		t.Errorf("r2.Dirs() = %q", got)
	}
	if got := r3.Dirs(); !slices.Equal(got, []string{fx.root, fx.root2, fx.outside}) {
		t.Errorf("r3.Dirs() = %q", got)
	}
	d := r2.Dirs()
	d[0] = "/tampered"
	if r2.Dirs()[0] != fx.root {
		t.Error("modifying the Dirs() result changed the Roots")
	}
	if _, err := r1.readPath(filepath.Join(fx.root2, "secret.txt")); !errors.Is(err, ErrOutside) {
		t.Errorf("r1 allows root2 after With: %v", err)
	}
}

func TestMultipleRoots(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root, fx.root2)
	if err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(fx.root2, "secret.txt")
	if got, err := r.readPath(abs); err != nil || got != abs {
		t.Errorf("readPath(%q) = %q, %v; want it allowed by the second root", abs, got, err)
	}
	if got, err := r.writePath(filepath.Join(fx.root2, "new.txt")); err != nil || got != filepath.Join(fx.root2, "new.txt") {
		t.Errorf("writePath in second root = %q, %v", got, err)
	}
	// Relative paths go to the first root only.
	if _, err := r.readPath("secret.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("readPath(relative name only in second root) error = %v, want not-exist", err)
	}
	if got, err := r.writePath("new.txt"); err != nil || got != filepath.Join(fx.root, "new.txt") {
		t.Errorf("writePath(relative) = %q, %v; want it in the first root", got, err)
	}
	if _, err := r.writePath(fx.root2); err == nil || !strings.Contains(err.Error(), "root") {
		t.Errorf("writePath(second root itself) error = %v, want refusal", err)
	}
	if _, err := r.readPath(filepath.Join(fx.outside, "secret.txt")); !errors.Is(err, ErrOutside) {
		t.Errorf("readPath(outside) error = %v, want ErrOutside", err)
	}
}

func TestOutsideMessage(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root, fx.root2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.readPath("../outside/secret.txt")
	want := `path "../outside/secret.txt" is outside the allowed directories (` +
		fx.root + ", " + fx.root2 + "); relative paths are resolved against " + fx.root
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	abs := filepath.Join(fx.outside, "x")
	_, err = r.writePath(abs)
	want = `path "` + abs + `" is outside the allowed directories (` + fx.root + ", " + fx.root2 + ")"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	long := strings.Repeat("x", 3000)
	_, err = r.readPath("/" + long)
	if err == nil || len(err.Error()) > 1000 {
		t.Errorf("error for a long path is missing or not truncated (%d bytes)", len(err.Error()))
	}
}

func TestWithin(t *testing.T) {
	sep := string(filepath.Separator)
	j := func(parts ...string) string { return sep + strings.Join(parts, sep) }
	for _, tc := range []struct {
		root, p string
		want    bool
	}{
		{j("data"), j("data", "x"), true},
		{j("data"), j("data"), true},
		{j("data"), j("data", "..foo"), true},
		{j("data"), j("data", "a", "b"), true},
		{j("data"), j("data2", "x"), false},
		{j("data"), j("data2"), false},
		{j("data"), j("dat"), false},
		{j("data"), sep, false},
		{j("data"), j("other", "data", "x"), false},
		{j("data", "a"), j("data", "b"), false},
		{sep, j("x"), true},
	} {
		if got := within(tc.root, tc.p); got != tc.want {
			t.Errorf("within(%q, %q) = %v, want %v", tc.root, tc.p, got, tc.want)
		}
	}
}

func TestResolveExisting(t *testing.T) {
	fx := newFixture(t)
	if !fx.symlinks {
		t.Skip("symlinks not available")
	}
	j := filepath.Join
	for _, tc := range []struct{ in, want string }{
		{j(fx.root, "a.txt"), j(fx.root, "a.txt")},
		{j(fx.root, "nope", "x"), j(fx.root, "nope", "x")},
		{j(fx.root, "sub", "link-up"), j(fx.root, "a.txt")},
		{j(fx.root, "link-out-dir", "nope", "x"), j(fx.outside, "nope", "x")},
		{j(fx.root, "dangling-out"), j(fx.outside, "nope")},
		{j(fx.root, "dangling-in"), j(fx.root, "nope")},
		{j(fx.root, "link-root2", "new"), j(fx.root2, "new")},
		{j(fx.root, "loop"), j(fx.root, "loop")}, // gives up after 255 links
	} {
		if got := resolveExisting(tc.in); got != tc.want {
			t.Errorf("resolveExisting(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// The Windows name rules, run here whatever the platform: with windows set,
// a device name, a trailing dot or space or a ':' in any element is refused
// naming the element; a drive letter and either separator are fine. Without
// it, such names are ordinary (a Linux file may be called CON).
func TestCheckNames(t *testing.T) {
	for _, tc := range []struct {
		path string
		bad  string // the element refused on Windows, "" for none
	}{
		{`report.pdf`, ""},
		{`C:\Users\me\data\report.pdf`, ""},
		{`c:/Users/me/report.pdf`, ""},
		{`\\server\share\dir\report.pdf`, ""},
		{`sub/../report.pdf`, ""},
		{`CON`, "CON"},
		{`C:\Users\me\nul.txt`, "nul.txt"},
		{`out/COM1/report.pdf`, "COM1"},
		{`sub\aux`, "aux"},
		{`report.pdf.`, "report.pdf."},
		{`dir \report.pdf`, "dir "},
		{`report.pdf:secret`, "report.pdf:secret"},
		{`C:report.pdf:x`, "report.pdf:x"},
		{`\\?\C:\x`, "?"},
	} {
		err := checkNames(tc.path, true)
		switch {
		case tc.bad == "" && err != nil:
			t.Errorf("checkNames(%q, windows) = %v, want nil", tc.path, err)
		case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), strconv.Quote(tc.bad))):
			t.Errorf("checkNames(%q, windows) = %v, want a refusal naming %q", tc.path, err, tc.bad)
		}
		if err := checkNames(tc.path, false); err != nil {
			t.Errorf("checkNames(%q, not windows) = %v, want nil", tc.path, err)
		}
	}
}
