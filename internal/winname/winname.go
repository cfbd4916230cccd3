// Package winname holds the rules Windows puts on a file name beyond those
// of POSIX, as pure functions, so that they run (and are tested) on every
// platform: fsroot applies them to client paths when the server runs on
// Windows, and the local backend's tests check its own file names with them.
package winname

import (
	"fmt"
	"strings"
)

// Problem returns why name, one element of a path, cannot name an ordinary
// file on Windows, or "" when it can. "." and ".." are left to path
// cleaning and pass.
func Problem(name string) string {
	if name == "." || name == ".." {
		return ""
	}
	if i := strings.IndexFunc(name, forbidden); i >= 0 {
		r := []rune(name[i:])[0]
		if r == ':' {
			return "':' is not allowed in a Windows file name (it would name an alternate data stream)"
		}
		return fmt.Sprintf("%q is not allowed in a Windows file name", r)
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return "Windows drops a trailing dot or space, so the name would stand for another file"
	}
	if dev := Device(name); dev != "" {
		return dev + " is a device on Windows, not a file"
	}
	return ""
}

// forbidden reports the characters Windows refuses in a file name.
func forbidden(r rune) bool {
	return r < 0x20 || strings.ContainsRune(`<>:"|?*\/`, r)
}

// Device returns the reserved device name name stands for on Windows (CON,
// NUL, COM1, ...), or "". Windows ignores what follows the first dot and
// trailing spaces before it, and matches in any case: "nul.txt" and
// "Com1 .log" are devices too (Windows 11 relaxed the extension rule; older
// versions did not, so it is kept).
func Device(name string) string {
	base, _, _ := strings.Cut(name, ".")
	base = strings.TrimRight(base, " ")
	up := strings.ToUpper(base)
	switch up {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return up
	}
	if len(up) > 3 && (up[:3] == "COM" || up[:3] == "LPT") {
		switch up[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "\u00b9", "\u00b2", "\u00b3":
			return up
		}
	}
	return ""
}
