//go:build !unix

package fsroot

import "os"

// readFlags opens a file to upload. Outside Unix there are no FIFOs to
// swap in (Windows' named pipes live outside any directory tree).
const readFlags = os.O_RDONLY
