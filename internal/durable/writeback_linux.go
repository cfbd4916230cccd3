package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// StartWriteback asks the kernel to start writing the bytes [off, off+n) of
// f to disk, without waiting for it: a file written in one long stream (a
// download) then reaches the disk while it is still arriving, and the fsync
// that ends it finds little left to write. It is a hint, and never fails;
// it is not a sync, and makes nothing durable.
func StartWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
