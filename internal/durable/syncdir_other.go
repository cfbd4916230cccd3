//go:build !windows

package durable

// dirSync is true: POSIX systems need the directory fsynced for a rename or
// a new name in it to survive a power cut.
const dirSync = true
