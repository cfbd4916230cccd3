package miniflare

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncFS flushes the whole file system holding dir (syncfs(2)): every
// file's data and every directory entry written before it.
func syncFS(dir string) (bool, error) {
	d, err := os.Open(dir)
	if err != nil {
		return true, err
	}
	defer d.Close()
	return true, unix.Syncfs(int(d.Fd()))
}
