package mcptest

import (
	"bytes"
	"sync"
)

// Output collects what a child process writes, from several pipes at once
// (its stdout and stderr, or the goroutines exec starts to copy them).
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
