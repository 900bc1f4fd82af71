package testproc

import (
	"os/exec"
	"syscall"
)

// setDeathSig has the kernel send sig to the child if the test binary
// dies without stopping it (a panic, a -timeout).
func setDeathSig(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = sig
}
