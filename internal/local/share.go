package local

import "strings"

// extendedPath gives a long absolute Windows path the \\?\ prefix that lifts
// CreateFile's MAX_PATH limit. os.Open does this itself; openShared calls
// CreateFile directly on Windows, so it must too. The store's paths are
// absolute and clean (filepath.Abs, filepath.Join), as the prefix needs.
// It is plain string work, so its tests run on every platform.
func extendedPath(p string) string {
	// 248, not MAX_PATH (260): the limit for a directory, which Go's
	// os package uses too, leaving room for an 8.3 file name.
	const short = 248
	switch {
	case len(p) < short, strings.HasPrefix(p, `\\?\`), strings.HasPrefix(p, `\??\`):
		return p
	case strings.HasPrefix(p, `\\`): // \\server\share\...
		return `\\?\UNC\` + p[2:]
	case len(p) >= 3 && p[1] == ':' && p[2] == '\\': // C:\...
		return `\\?\` + p
	}
	return p
}
