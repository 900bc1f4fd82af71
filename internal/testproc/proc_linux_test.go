package testproc

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

func TestStartSetsDeathSig(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p, err := Start(cmd, filepath.Join(t.TempDir(), "sleep.log"), syscall.SIGQUIT)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if a := cmd.SysProcAttr; a.Pdeathsig != syscall.SIGQUIT || !a.Setpgid {
		t.Fatalf("SysProcAttr = %+v; want Pdeathsig SIGQUIT, Setpgid kept", a)
	}
}
