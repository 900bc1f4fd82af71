//go:build !linux

package aztest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
