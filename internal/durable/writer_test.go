package durable

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestWriter writes a file over several writeback chunks, in writes of odd
// sizes that straddle them: the writeback starts on the way, for no more
// than was written, and every byte is in place.
func TestWriter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "large.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	want := make([]byte, 2*writebackChunk+12345)
	for i := range want {
		want[i] = byte(i*7 + i>>13)
	}
	for rest := want; len(rest) > 0; {
		n := min(len(rest), 3<<20+17)
		if m, err := w.Write(rest[:n]); err != nil || m != n {
			t.Fatalf("Write = %d, %v", m, err)
		}
		rest = rest[n:]
	}
	w.Wait()
	if w.written != int64(len(want)) || w.flushed == 0 || w.flushed > w.written {
		t.Errorf("written %d, writeback started for %d", w.written, w.flushed)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes (%v), not the %d written", len(got), err, len(want))
	}
}
