//go:build unix

package wranglertest

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts wrangler in a group of its own, so that stopping it
// also stops the workerd it starts.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
