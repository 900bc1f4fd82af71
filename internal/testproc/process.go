package testproc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ErrExited is the readiness error of a process that exited before it
// was ready.
var ErrExited = errors.New("exited")

// Process is a started server.
type Process struct {
	cmd      *exec.Cmd
	log      string
	deathSig syscall.Signal
	exited   chan struct{}
}

// Start starts cmd with its output in the file logPath (created anew).
// Should this process die first, the kernel sends the child deathSig
// (Linux only); WaitReady ends a child that fails to start with it too.
func Start(cmd *exec.Cmd, logPath string, deathSig syscall.Signal) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = logFile, logFile
	setDeathSig(cmd, deathSig)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", filepath.Base(cmd.Path), err)
	}
	p := &Process{cmd: cmd, log: logPath, deathSig: deathSig, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitReady calls ready every interval until it returns nil. If the
// process exits first, or ready still fails after limit, WaitReady stops
// the process (its deathSig, SIGKILL 10 s later) and returns the error
// with the end of its log.
func (p *Process) WaitReady(limit, interval time.Duration, ready func() error) error {
	deadline := time.Now().Add(limit)
	for {
		var err error
		select {
		case <-p.exited:
			err = ErrExited
		default:
			if err = ready(); err == nil {
				return nil
			}
			if time.Now().Before(deadline) {
				time.Sleep(interval)
				continue
			}
		}
		p.Stop(p.deathSig, 10*time.Second)
		return fmt.Errorf("%s did not start: %w\n%s", filepath.Base(p.cmd.Path), err, p.LogTail())
	}
}

// Stop sends sig and waits for the process to exit, killing it after
// grace.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) {
	p.cmd.Process.Signal(sig)
	select {
	case <-p.exited:
	case <-time.After(grace):
		p.Kill()
	}
}

// Kill kills the process and waits for it to exit.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// LogTail returns the last 2000 bytes of the process's log.
func (p *Process) LogTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}
