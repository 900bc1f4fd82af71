//go:build !linux

package enginetest

import (
	"os"
	"syscall"
)

// The engines run on Linux only; elsewhere StartDocker and
// StartContainerd skip for want of the binaries.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func unmountUnder(string) error { return nil }
