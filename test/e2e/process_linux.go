package e2e

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill the child when the harness
// dies, so that a crashed test leaves no manager or agent behind.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
