package testproc

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// start starts sh -c script with its log in a temporary directory.
func start(t *testing.T, script string) *Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	p, err := Start(exec.Command(sh, "-c", script), filepath.Join(t.TempDir(), "sh.log"), syscall.SIGKILL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

func exited(p *Process) bool {
	select {
	case <-p.Exited():
		return true
	default:
		return false
	}
}

func TestWaitReady(t *testing.T) {
	errNotYet := errors.New("not yet")
	tests := []struct {
		name    string
		script  string
		readyAt int // call of ready that succeeds; 0: never
		wantErr error
		wantLog string // in the error
	}{
		{name: "ready at once", script: "exec sleep 60", readyAt: 1},
		{name: "ready later", script: "exec sleep 60", readyAt: 3},
		{name: "never ready", script: "echo starting; exec sleep 60", wantErr: errNotYet, wantLog: "starting"},
		{name: "exits", script: "echo boom; exit 3", wantErr: ErrExited, wantLog: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.script)
			if tt.wantErr == ErrExited {
				<-p.Exited()
			}
			calls := 0
			begin := time.Now()
			err := p.WaitReady(300*time.Millisecond, 10*time.Millisecond, func() error {
				if calls++; calls == tt.readyAt {
					return nil
				}
				return errNotYet
			})
			if tt.wantErr == nil {
				if err != nil || calls != tt.readyAt || exited(p) {
					t.Fatalf("WaitReady = %v after %d calls, exited %v; want ready after %d", err, calls, exited(p), tt.readyAt)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantLog) {
				t.Fatalf("WaitReady = %v; want %v with %q", err, tt.wantErr, tt.wantLog)
			}
			if tt.wantErr == errNotYet && time.Since(begin) < 300*time.Millisecond {
				t.Fatalf("gave up after %v, before the deadline", time.Since(begin))
			}
			if !exited(p) {
				t.Fatal("the process still runs after WaitReady failed")
			}
		})
	}
}

func TestStop(t *testing.T) {
	tests := []struct {
		name     string
		script   string
		grace    time.Duration
		min, max time.Duration // how long Stop may take
	}{
		{name: "ends on SIGTERM", script: "exec sleep 60", grace: 10 * time.Second, max: 5 * time.Second},
		// An ignored signal stays ignored across exec.
		{name: "ignores SIGTERM", script: `trap "" TERM; exec sleep 60`, grace: 300 * time.Millisecond, min: 300 * time.Millisecond, max: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.script)
			time.Sleep(100 * time.Millisecond) // let sh set its trap
			begin := time.Now()
			p.Stop(syscall.SIGTERM, tt.grace)
			took := time.Since(begin)
			if !exited(p) {
				t.Fatal("the process still runs after Stop")
			}
			if took < tt.min || took > tt.max {
				t.Fatalf("Stop took %v, want %v to %v", took, tt.min, tt.max)
			}
		})
	}
}
