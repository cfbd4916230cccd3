//go:build unix

package fsroot

import (
	"os"
	"syscall"
)

// readFlags opens a file to upload without blocking: a FIFO swapped in
// after the check would otherwise hold the open until some writer came.
// O_NONBLOCK changes nothing for a regular file, and openIn refuses
// anything else once it is open.
const readFlags = os.O_RDONLY | syscall.O_NONBLOCK
