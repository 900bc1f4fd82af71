//go:build !linux

package testproc

import (
	"os/exec"
	"syscall"
)

func setDeathSig(*exec.Cmd, syscall.Signal) {}
