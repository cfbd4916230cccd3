package fsroot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// listDir returns the names in dir, to detect leftover temporary files.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// create starts an atomic write of path with its directory as the only root.
func create(t *testing.T, path string, overwrite bool) (*AtomicFile, error) {
	t.Helper()
	r, err := New(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	return r.Create(path, overwrite)
}

func writeAll(t *testing.T, af *AtomicFile, chunks ...string) {
	t.Helper()
	for _, c := range chunks {
		if n, err := af.Write([]byte(c)); err != nil || n != len(c) {
			t.Fatalf("Write(%q) = %d, %v", c, n, err)
		}
	}
}

func TestAtomicCommitNewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	af, err := create(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, af, "hello ", "world")
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("destination visible before Commit: %v", err)
	}
	if err := af.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "hello world" {
		t.Fatalf("content = %q, %v", got, err)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "out.bin" {
		t.Errorf("directory holds %q, want only out.bin", names)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("new file mode = %v, want 0600", perm)
		}
	}
	// Deferred Abort after a successful Commit must not undo it.
	if err := af.Abort(); err != nil {
		t.Errorf("Abort after Commit = %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("file gone after Abort following Commit: %v", err)
	}
	if _, err := af.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Commit = %v, want os.ErrClosed", err)
	}
	if err := af.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Commit = %v, want os.ErrClosed", err)
	}
}

func TestAtomicOverwriteKeepsMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.txt")
	if err := os.WriteFile(path, []byte("old content, longer than the new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	af, err := create(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, af, "new")
	if got, _ := os.ReadFile(path); string(got) != "old content, longer than the new" {
		t.Fatalf("destination changed before Commit: %q", got)
	}
	if err := af.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "new" {
		t.Fatalf("content = %q, %v; want %q", got, err, "new")
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o640 {
			t.Errorf("mode after overwrite = %v, want 0640", perm)
		}
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want only out.txt", names)
	}
}

func TestAtomicAbort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(path, []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	af, err := create(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, af, "partial download")
	if names := listDir(t, dir); len(names) != 2 {
		t.Fatalf("directory holds %q, want destination and one temporary file", names)
	}
	if err := af.Abort(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "original" {
		t.Errorf("destination = %q, %v after Abort; want untouched", got, err)
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "keep.txt" {
		t.Errorf("directory holds %q after Abort, want only keep.txt", names)
	}
	if err := af.Abort(); err != nil {
		t.Errorf("second Abort = %v, want nil", err)
	}
	if err := af.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Abort = %v, want os.ErrClosed", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "original" {
		t.Errorf("Commit after Abort changed the destination to %q", got)
	}
}

func TestAtomicCommitFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	af, err := create(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, af, "data")
	// A directory appearing at the destination makes the rename fail.
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := af.Commit(); err == nil {
		t.Fatal("Commit over a non-empty directory succeeded")
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "target" {
		t.Errorf("directory holds %q after failed Commit, want only target", names)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path, wantMsg string
	}{
		{"directory", dir, "directory"},
		{"missing parent", filepath.Join(dir, "nodir", "f"), "directory cannot be used"},
		{"trailing separator", dir + string(filepath.Separator), "directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(dir)
			if err != nil {
				t.Fatal(err)
			}
			af, err := r.Create(tc.path, true)
			if err == nil {
				af.Abort()
				t.Fatalf("Create(%q) succeeded", tc.path)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
		})
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("failed opens left %q behind", names)
	}
}

func TestAtomicLongName(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("é", 120) // 240 bytes: near NAME_MAX
	path := filepath.Join(dir, name)
	af, err := create(t, path, true)
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, af, "x")
	if err := af.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "x" {
		t.Errorf("content = %q, %v", got, err)
	}
}

// TestAtomicLargeWrite writes a file over several writeback chunks (8 MiB,
// durable.Writer), in writes of odd sizes that straddle them, and finds
// every byte in place: starting the writeback on the way changes nothing
// of the content.
func TestAtomicLargeWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "large.bin")
	af, err := create(t, path, false)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*(8<<20)+12345)
	for i := range want {
		want[i] = byte(i*7 + i>>13)
	}
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 3<<20+17)
		if m, err := af.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		rest = rest[n:]
	}
	if err := af.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), not the %d written", len(got), err, len(want))
	}
}

// askedReader serves data in reads of at most 100,000 bytes and records the
// largest read it was asked for; with fail set it fails after the data.
type askedReader struct {
	data    []byte
	largest int
	fail    error
}

func (r *askedReader) Read(p []byte) (int, error) {
	r.largest = max(r.largest, len(p))
	if len(r.data) == 0 {
		if r.fail != nil {
			return 0, r.fail
		}
		return 0, io.EOF
	}
	n := copy(p, r.data[:min(len(r.data), 100_000)])
	r.data = r.data[n:]
	return n, nil
}

// TestAtomicReadFrom copies into an atomic file with io.Copy, as save_to
// does: the source is read in chunks of copyBuffer, not io.Copy's 32 KiB
// (issue 14: a large download paid eight times the system calls), every
// byte lands, and a failing source's error comes back with what was copied.
func TestAtomicReadFrom(t *testing.T) {
	want := bytes.Repeat([]byte("abcdefghijklmnopqrstuvwxyz0123456789"), 100_000)
	path := filepath.Join(t.TempDir(), "copied.bin")
	af, err := create(t, path, false)
	if err != nil {
		t.Fatal(err)
	}
	src := &askedReader{data: want}
	if n, err := io.Copy(af, struct{ io.Reader }{src}); err != nil || n != int64(len(want)) {
		t.Fatalf("io.Copy = %d, %v; want %d bytes", n, err, len(want))
	}
	if src.largest != copyBuffer {
		t.Errorf("the source was asked for at most %d bytes at a time, want %d", src.largest, copyBuffer)
	}
	if err := af.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), not the %d copied", len(got), err, len(want))
	}
	if _, err := af.ReadFrom(bytes.NewReader(want)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("ReadFrom after Commit = %v, want os.ErrClosed", err)
	}

	broken := errors.New("connection reset")
	af, err = create(t, filepath.Join(t.TempDir(), "broken.bin"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer af.Abort()
	if n, err := io.Copy(af, &askedReader{data: want[:250_000], fail: broken}); !errors.Is(err, broken) || n != 250_000 {
		t.Errorf("io.Copy of a failing source = %d, %v; want 250000, %v", n, err, broken)
	}
}
