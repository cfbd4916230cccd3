//go:build windows

package durable

// dirSync is false on Windows: FlushFileBuffers on a directory needs a
// handle with write access, which os.Open (read-only) does not give, so the
// sync would fail with ERROR_ACCESS_DENIED; NTFS journals its metadata, so
// renames and new names are made durable by the file system itself.
const dirSync = false
