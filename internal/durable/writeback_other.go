//go:build !linux

package durable

import "os"

// StartWriteback does nothing where there is no sync_file_range: the fsync
// that ends a file writes it all.
func StartWriteback(f *os.File, off, n int64) {}
