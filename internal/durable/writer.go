package durable

import "os"

// Writer writes a file in one stream from its start and, every
// writebackChunk bytes, starts their writeback (StartWriteback) on a
// goroutine of its own: the disk then works while the data is still
// arriving, rather than all of it in the fsync that ends the file, and a
// busy disk does not hold up the writes. That overlap is what puts a
// 1 GiB save_to or upload at or below a plain copy followed by one fsync.
// While one writeback runs, the next chunks wait for the one after it.
//
// Call Wait before the fsync (or before closing the file): a writeback
// still running would use the file after it.
type Writer struct {
	f *os.File
	// written is the bytes written so far; flushed, the prefix already
	// handed to the disk. busy holds a token while a writeback runs.
	written, flushed int64
	busy             chan struct{}
}

// writebackChunk is how much a Writer lets pile up in the page cache before
// it asks the kernel to start writing it out.
const writebackChunk = 8 << 20

// NewWriter returns a Writer onto f, which must be empty and written only
// through it.
func NewWriter(f *os.File) *Writer {
	return &Writer{f: f, busy: make(chan struct{}, 1)}
}

// Write writes p to the file.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.written += int64(n)
	if w.written-w.flushed >= writebackChunk {
		select {
		case w.busy <- struct{}{}:
			off, size := w.flushed, w.written-w.flushed
			w.flushed = w.written
			go func() {
				defer func() { <-w.busy }()
				StartWriteback(w.f, off, size)
			}()
		default:
		}
	}
	return n, err
}

// Wait waits for the writeback Write started, if one runs.
func (w *Writer) Wait() {
	w.busy <- struct{}{}
	<-w.busy
}
