package gcstest

import "syscall"

// sysProcAttr has the kernel kill the server if the test binary dies
// without calling Stop (a panic, a -timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
