//go:build windows

package local

import (
	"os"
	"syscall"
)

// openShared opens a blob for reading with FILE_SHARE_DELETE, which os.Open
// does not pass on Windows (syscall.Open shares read and write only): with
// it, the removal of a blob that an overwrite or the sweep no longer needs
// succeeds while a reader still streams it, instead of failing and leaving
// the blob to a later sweep.
func openShared(path string) (*os.File, error) {
	p, err := syscall.UTF16PtrFromString(extendedPath(path))
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	h, err := syscall.CreateFile(p, syscall.GENERIC_READ,
		syscall.FILE_SHARE_READ|syscall.FILE_SHARE_WRITE|syscall.FILE_SHARE_DELETE,
		nil, syscall.OPEN_EXISTING, syscall.FILE_ATTRIBUTE_NORMAL, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(h), path), nil
}
