package local

import (
	"bytes"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/winname"
)

// Keys, titles and bucket and database names never become file names: every
// file and directory the backend makes is named by a random hex id or a
// database UUID, so a data dir stays usable on Windows whatever the keys
// (devices such as CON or NUL, ':' for a data stream, trailing dots and
// spaces, case-only differences).
func TestFileNamesIgnoreKeys(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	t.Cleanup(func() { check(t, b.Close()) })
	keys := []string{"CON", "nul.txt", "COM1 ", "a/../../AUX", "report.pdf.", "x:stream", `C:\Windows\win.ini`, "Con", "con"}
	big := bytes.Repeat([]byte("v"), kvInlineMax+1) // stored as a blob
	ns := mkNamespace(t, b, "CON")
	mkBucket(t, b, "nul")
	for _, k := range keys {
		check(t, b.KV().Put(t.Context(), ns, storage.KVPut{Key: k, Body: bytes.NewReader(big), Size: int64(len(big))}))
		putObject(t, b, "nul", k, big)
	}
	_, err := b.D1().CreateDatabase(t.Context(), storage.DatabaseSpec{Name: "aux"})
	check(t, err)

	blobs := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, elem := range strings.Split(filepath.ToSlash(rel), "/") {
			if why := winname.Problem(elem); why != "" {
				t.Errorf("%s: %s", rel, why)
			}
			if isBlobID(elem) {
				blobs++
			}
		}
		return nil
	})
	check(t, err)
	if want := 2 * len(keys); blobs != want {
		t.Errorf("found %d blob files, want %d (one per value and object)", blobs, want)
	}
}
