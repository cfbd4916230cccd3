//go:build !unix

package miniflare

// lockHolder cannot ask for another process's locks here: the exclusive
// lock of each write's connection (see dsn) is the only guard.
func lockHolder(string) (int, error) { return 0, nil }

func processName(int) string { return "" }
