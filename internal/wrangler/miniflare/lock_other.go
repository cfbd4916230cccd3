//go:build !unix

package miniflare

// canTellRunning is false: there is no F_GETLK here, so lockHolder cannot
// see workerd's lock, and checkWritable refuses every write (see
// writeRefusal).
const canTellRunning = false

// lockHolder cannot ask for another process's locks here.
func lockHolder(string) (int, error) { return 0, nil }

func processName(int) string { return "" }
