package durable

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// The platform rule lives in the build-tagged files; this pins which file a
// platform gets: directories are synced everywhere but on Windows.
func TestDirSyncRule(t *testing.T) {
	if want := runtime.GOOS != "windows"; dirSync != want {
		t.Fatalf("dirSync = %v on %s, want %v", dirSync, runtime.GOOS, want)
	}
}

func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(os.TempDir(), filepath.Join(dir, "out")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tc := range []struct {
		name    string
		sync    func() error
		wantErr bool
	}{
		{"dir", func() error { return SyncDir(dir) }, false},
		{"missing dir", func() error { return SyncDir(filepath.Join(dir, "nope")) }, dirSync},
		{"in root", func() error { return SyncDirIn(root, "sub") }, false},
		{"root itself", func() error { return SyncDirIn(root, ".") }, false},
		{"escaping the root", func() error { return SyncDirIn(root, "out") }, dirSync},
		{"parent of the root", func() error { return SyncDirIn(root, "..") }, dirSync},
	} {
		if err := tc.sync(); (err != nil) != tc.wantErr {
			t.Errorf("%s: error = %v, want error %v", tc.name, err, tc.wantErr)
		}
	}
}

// TestStartWritebackIsAHint starts the writeback of a file's data, of a
// range past its end, and of a closed file: none fails or changes the data.
func TestStartWritebackIsAHint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	StartWriteback(f, 0, int64(len(data)))
	StartWriteback(f, int64(len(data)), 1<<20)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	StartWriteback(f, 0, 1)
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), not the %d written", len(got), err, len(data))
	}
}
