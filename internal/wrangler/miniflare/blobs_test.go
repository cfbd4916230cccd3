package miniflare

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"testing"

	"github.com/mcp-cfstorage/mcp-cfstorage/internal/storage"
	"github.com/mcp-cfstorage/mcp-cfstorage/internal/upload"
)

// An object of several chunks is written through upload.Copy: its ETag is
// the MD5 of every byte (hashed beside the writes), progress ends at its
// size, and the bytes read back are the ones sent.
func TestPutObjectOfSeveralChunks(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	data := make([]byte, 3*upload.ChunkSize+5)
	for i := range data {
		data[i] = byte(i * 31)
	}
	var last int64
	info, err := s.R2().PutObject(ctx, storage.ObjectPut{Bucket: "fixture-bucket", Key: "big", Body: bytes.NewReader(data), Size: int64(len(data)),
		Progress: func(n int64) { last = n }})
	if err != nil {
		t.Fatal(err)
	}
	if sum := md5.Sum(data); info.ETag != hex.EncodeToString(sum[:]) {
		t.Errorf("ETag %s, want the MD5 %x", info.ETag, sum)
	}
	if last != int64(len(data)) {
		t.Errorf("progress ended at %d, want %d", last, len(data))
	}
	o, err := s.R2().GetObject(ctx, "fixture-bucket", "big", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, o.Body); !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, not the %d sent", len(got), len(data))
	}
}
