//go:build !windows

package local

import "os"

// openShared opens a blob for reading. POSIX lets a file be removed or
// renamed over while open, so os.Open is all it takes here.
func openShared(path string) (*os.File, error) {
	return os.Open(path)
}
