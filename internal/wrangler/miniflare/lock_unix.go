//go:build unix

package miniflare

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// canTellRunning is true: lockHolder sees workerd's lock on its
// metadata.sqlite, so checkWritable can tell whether dev runs.
const canTellRunning = true

// lockHolder reports the pid of another process holding a lock on the
// file at path, 0 when none does. It asks with F_GETLK, which takes no lock
// and does not see this process's own. The file is opened and closed, which
// drops any POSIX lock this process holds on it: only call it on files this
// package never opens with SQLite (workerd's metadata.sqlite).
func lockHolder(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0} // the whole file
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, err
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}

// processName is " (name)" of process pid where the system says, for
// errors.
func processName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return " (" + strings.TrimSpace(string(b)) + ")"
}
