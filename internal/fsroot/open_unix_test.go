//go:build unix

package fsroot

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO swapped in for the checked file must not hang the open (and with
// it the tool call) until a writer shows up: the open returns and the FIFO
// is refused as not a regular file.
func TestOpenFIFOSwapDoesNotBlock(t *testing.T) {
	fx := newFixture(t)
	r, err := New(fx.root)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.readPath("sub/b.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(res); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(res, 0o600); err != nil {
		t.Skipf("cannot make a FIFO: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		dir, rel := r.locate(res)
		f, err := r.openIn("sub/b.txt", dir, rel)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("opening a FIFO succeeded, want a refusal")
		}
	case <-time.After(10 * time.Second): // a hang, not a slow open
		// Release the blocked open so the test can end.
		if w, err := os.OpenFile(filepath.Clean(res), os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("the open of a FIFO blocked waiting for a writer")
	}
}
