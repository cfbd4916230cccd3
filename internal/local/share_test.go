package local

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
)

func TestExtendedPath(t *testing.T) {
	long := strings.Repeat(`x\`, 130) + "f" // 261 bytes
	for _, tc := range []struct{ in, want string }{
		{`C:\data\blobs\ab\ab01`, `C:\data\blobs\ab\ab01`},
		{`C:\` + long, `\\?\C:\` + long},
		{`\\server\share\` + long, `\\?\UNC\server\share\` + long},
		{`\\?\C:\` + long, `\\?\C:\` + long},
		{`/srv/` + strings.ReplaceAll(long, `\`, "/"), `/srv/` + strings.ReplaceAll(long, `\`, "/")},
		{`relative\` + long, `relative\` + long},
	} {
		if got := extendedPath(tc.in); got != tc.want {
			t.Errorf("extendedPath(%.40q...) = %.60q..., want %.60q...", tc.in, got, tc.want)
		}
	}
}

// An overwrite removes the blob it replaced at once, even while a reader
// still streams it, and the reader gets all of the old bytes. On Windows
// that needs the blob opened with FILE_SHARE_DELETE (openShared); os.Open
// would make the removal fail there and leave the blob to a later sweep.
func TestRemoveBlobWhileReading(t *testing.T) {
	dir := t.TempDir()
	b := New(dir)
	t.Cleanup(func() { check(t, b.Close()) })
	ns := mkNamespace(t, b, "ns")
	mkBucket(t, b, "bkt")
	old := bytes.Repeat([]byte("o"), kvInlineMax+1)
	put := func(data []byte) {
		check(t, b.KV().Put(t.Context(), ns, storage.KVPut{Key: "k", Body: bytes.NewReader(data), Size: int64(len(data))}))
		putObject(t, b, "bkt", "k", data)
	}
	put(old)
	before := blobFiles(t, dir)

	v, err := b.KV().Get(t.Context(), ns, "k")
	check(t, err)
	defer v.Body.Close()
	obj, err := b.R2().GetObject(t.Context(), "bkt", "k", nil)
	check(t, err)
	defer obj.Body.Close()

	put(bytes.Repeat([]byte("n"), kvInlineMax+1))
	after := blobFiles(t, dir)
	for _, id := range before {
		if slices.Contains(after, id) {
			t.Errorf("blob %s outlived the overwrite while being read", id)
		}
	}
	for name, body := range map[string]io.Reader{"value": v.Body, "object": obj.Body} {
		got, err := io.ReadAll(body)
		if err != nil || !bytes.Equal(got, old) {
			t.Errorf("%s read during the overwrite: %d bytes, %v; want the %d old bytes", name, len(got), err, len(old))
		}
	}
}
