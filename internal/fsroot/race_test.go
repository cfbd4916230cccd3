package fsroot

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// swapForLink replaces the directory root/sub with a symbolic link to
// target, as a local process racing the server could between the check of
// a path and its use. The real directory moves to root/sub-moved.
func swapForLink(t *testing.T, fx fixture, target string) {
	t.Helper()
	if !fx.symlinks {
		t.Skip("symlinks not available")
	}
	sub := filepath.Join(fx.root, "sub")
	if err := os.Rename(sub, sub+"-moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, sub); err != nil {
		t.Fatal(err)
	}
}

func readAll(t *testing.T, f *os.File) string {
	t.Helper()
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpen(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, in string
		want     string // content on success
		wantIs   error
		symlink  bool
	}{
		{name: "relative", in: "a.txt", want: "data of " + filepath.Join(fx.root, "a.txt")},
		{name: "absolute", in: filepath.Join(fx.root, "sub", "b.txt"), want: "data of " + filepath.Join(fx.root, "sub", "b.txt")},
		{name: "link inside", in: "link-in", want: "data of " + filepath.Join(fx.root, "a.txt"), symlink: true},
		{name: "link outside", in: "link-out-file", wantIs: ErrOutside, symlink: true},
		{name: "dotdot", in: "../outside/secret.txt", wantIs: ErrOutside},
		{name: "missing", in: "nope.txt", wantIs: fs.ErrNotExist},
		{name: "directory", in: "sub"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.symlink && !fx.symlinks {
				t.Skip("symlinks not available")
			}
			f, err := r.Open(tc.in)
			if tc.want != "" {
				if err != nil {
					t.Fatalf("Open(%q): %v", tc.in, err)
				}
				if got := readAll(t, f); got != tc.want {
					t.Errorf("Open(%q) read %q, want %q", tc.in, got, tc.want)
				}
				return
			}
			if err == nil {
				f.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tc.in)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("Open(%q) error %v does not match %v", tc.in, err, tc.wantIs)
			}
		})
	}
}

// A directory swapped for a symbolic link to outside the roots after the
// path was checked: the path-based open the server used to do follows the
// link out; the open through os.Root refuses.
func TestOpenSymlinkSwapRace(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(fx.outside, "b.txt")
	if err := os.WriteFile(secret, []byte("outside secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := r.readPath("sub/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	swapForLink(t, fx, fx.outside)

	// What the old code did with the checked path: it escapes.
	if f, err := os.Open(res); err != nil || readAll(t, f) != "outside secret" {
		t.Fatalf("the race is not set up: opening %s by path = %v, want the outside file", res, err)
	}

	dir, rel := r.locate(res)
	f, err := r.openIn("sub/b.txt", dir, rel)
	if err == nil {
		t.Fatalf("open through the root succeeded and read %q, want a refusal", readAll(t, f))
	}
	if !errors.Is(err, ErrOutside) {
		t.Errorf("error %v does not match ErrOutside", err)
	}
}

// The same race for a download: the directory of the destination becomes
// a link to outside between the check and the creation of the temporary
// file. Nothing may be written outside.
func TestCreateSymlinkSwapRace(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	final, err := r.writePath("sub/new.txt")
	if err != nil {
		t.Fatal(err)
	}
	swapForLink(t, fx, fx.outside)
	before := listDir(t, fx.outside)

	// What the old code did: its temporary file lands outside.
	tmp, err := os.CreateTemp(filepath.Dir(final), ".new.txt.*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Close()
	if filepath.Dir(tmp.Name()) != filepath.Dir(final) || !slices.Contains(listDir(t, fx.outside), filepath.Base(tmp.Name())) {
		t.Fatalf("the race is not set up: a temp file by path went to %s", tmp.Name())
	}
	os.Remove(tmp.Name())

	af, err := r.createAt("sub/new.txt", final, false)
	if err == nil {
		writeAll(t, af, "download")
		cerr := af.Commit()
		t.Fatalf("create through the root succeeded (commit: %v), want a refusal", cerr)
	}
	if !errors.Is(err, ErrOutside) {
		t.Errorf("error %v does not match ErrOutside", err)
	}
	if after := listDir(t, fx.outside); !slices.Equal(before, after) {
		t.Errorf("outside directory changed from %q to %q", before, after)
	}
}

// The race once more, between Create and Commit: the temporary file is in
// place when its directory is swapped for a link to outside, where a file
// of the same name waits. The rename by path would follow the link; the
// move through the root refuses, with and without overwrite.
func TestCommitSymlinkSwapRace(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		fx := newFixture(t)
		r, err := New(fx.root)
		if err != nil {
			t.Fatal(err)
		}
		af, err := r.Create("sub/new.txt", overwrite)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, af, "download")
		// A copy of the temporary file outside, so that a move by path
		// would succeed there.
		if err := os.WriteFile(filepath.Join(fx.outside, filepath.Base(af.tmp)), []byte("decoy"), 0o600); err != nil {
			t.Fatal(err)
		}
		swapForLink(t, fx, fx.outside)
		before := listDir(t, fx.outside)
		if err := af.Commit(); err == nil {
			t.Errorf("overwrite %v: Commit succeeded after the swap, want a refusal", overwrite)
		}
		if after := listDir(t, fx.outside); !slices.Equal(before, after) {
			t.Errorf("overwrite %v: outside directory changed from %q to %q", overwrite, before, after)
		}
	}
}

// Without overwrite an existing destination is refused up front, before
// any download, and nothing changes.
func TestCreateRefusesExisting(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"a.txt", "sub/b.txt", "link-in"} {
		if in == "link-in" && !fx.symlinks {
			continue
		}
		af, err := r.Create(in, false)
		if err == nil {
			af.Abort()
			t.Fatalf("Create(%q, false) succeeded over an existing file", in)
		}
		if !errors.Is(err, ErrExists) {
			t.Errorf("Create(%q, false) error %v does not match ErrExists", in, err)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(fx.root, "a.txt")); string(got) != "data of "+filepath.Join(fx.root, "a.txt") {
		t.Errorf("a.txt changed to %q", got)
	}
	if names := listDir(t, filepath.Join(fx.root, "sub")); len(names) != 2 { // b.txt, link-up
		t.Errorf("sub holds %q, want no temporary file", names)
	}
}

// A file that appears at the destination after Create (another writer,
// another download) is not replaced by a Commit without overwrite: the
// refusal happens in the same file-system step as the placing, so no
// check-then-rename window exists. This holds with hard links and with the
// exclusive-create fallback for file systems without them.
func TestCommitNoReplaceRace(t *testing.T) {
	noLinks := func(string, string) error { return &os.LinkError{Op: "link", Err: syscall.EPERM} }
	for _, tc := range []struct {
		name  string
		links bool
	}{{"hard link", true}, {"no hard links", false}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "report.pdf")
			af, err := create(t, path, false)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.links {
				af.link = noLinks
			}
			writeAll(t, af, "ours")
			if err := os.WriteFile(path, []byte("theirs"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := af.Commit(); !errors.Is(err, ErrExists) {
				t.Errorf("Commit = %v, want ErrExists", err)
			}
			if got, _ := os.ReadFile(path); string(got) != "theirs" {
				t.Errorf("destination = %q, want the other writer's %q", got, "theirs")
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("directory holds %q, want only report.pdf", names)
			}

			// The name free: the same path saves the download.
			path2 := filepath.Join(dir, "other.pdf")
			af, err = create(t, path2, false)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.links {
				af.link = noLinks
			}
			writeAll(t, af, "ours")
			if err := af.Commit(); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path2); string(got) != "ours" {
				t.Errorf("new destination = %q, want %q", got, "ours")
			}
			if names := listDir(t, dir); len(names) != 2 {
				t.Errorf("directory holds %q, want report.pdf and other.pdf", names)
			}
		})
	}
}
