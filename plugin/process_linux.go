package plugin

import (
	"os/exec"
	"syscall"
)

// dieWithHost makes the kernel kill the plugin if the broker dies, even by
// SIGKILL, so no orphaned plugin keeps writing.
func dieWithHost(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
