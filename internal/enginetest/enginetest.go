// Package enginetest runs real container engines for end-to-end tests: a
// private containerd, and a private Docker daemon on top of its own
// containerd. Each lives in a fresh temporary directory with its own
// sockets, state and storage, and is stopped (and the directory removed)
// when the test ends. Nothing outside that directory is read or written
// but what the engines hard-code (/run/docker/plugins, an empty directory
// dockerd creates):
//
//	d := enginetest.StartDocker(t, enginetest.DockerOptions{
//		InsecureRegistries: []string{reg},
//	})
//	d.Run(t, "push", reg+"/app:v1")
//
//	c := enginetest.StartContainerd(t)
//	c.Ctr(t, "image", "pull", "--plain-http", reg+"/app:v1")
//
// The layout of a daemon's directory (kept short: Unix socket paths are
// limited to 108 bytes):
//
//	/tmp/dockerd-NNN/
//	  daemon.json          {} plus the trust key's path (else /etc/docker/key.json)
//	  root/ exec/          --data-root, --exec-root (vfs storage)
//	  docker.sock          -H unix://...
//	  config/config.json   the client's DOCKER_CONFIG
//	  containerd/          its containerd (see below), given with --containerd
//	  dockerd.log
//	/tmp/containerd-NNN/
//	  config.toml          root, state, [grpc] and [ttrpc] addresses, no CRI
//	  root/ state/ opt/
//	  containerd.sock
//	  containerd.log
//
// dockerd is given its own containerd rather than left to start one,
// because it would use any containerd listening on the system's default
// socket (/run/containerd/containerd.sock) instead.
//
// Binaries: dockerd and containerd from PATH or /usr/sbin, /usr/bin; the
// Docker client is /usr/bin/docker (Debian's docker.io, the daemon's own
// client) when present, else docker from PATH. A missing engine skips the
// test, or fails it when CI=true.
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Timeouts for the engines themselves; a client command has its own.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
	// CommandTimeout bounds one client command (docker, ctr).
	CommandTimeout = 5 * time.Minute
)

// Result is what one client command did.
type Result struct {
	Stdout, Stderr string
	Err            error
}

// Output is stdout and stderr together, for error messages.
func (r Result) Output() string { return r.Stdout + r.Stderr }

// binary finds a program in PATH or one of dirs. A missing one skips the
// test, or fails it when CI=true (CI must run every scenario).
func binary(t testing.TB, name string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := fmt.Sprintf("%s not found in PATH or %s (apt-get install docker.io containerd; scripts/install-tools.sh does)",
		name, strings.Join(dirs, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// daemon is one engine process and its directory.
type daemon struct {
	name   string // for messages: dockerd, containerd
	dir    string
	log    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// startDaemon runs bin with args, its output in dir/<name>.log, and
// registers its stop: SIGTERM, then after stopTimeout SIGKILL to its
// whole process group (dockerd's children included). If the test failed,
// the end of the log is logged.
func startDaemon(t testing.TB, name, dir, bin string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: name, dir: dir, log: filepath.Join(dir, name+".log"), exited: make(chan struct{})}
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the child has its own copy
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = env
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = sysProcAttr()
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("%s log (tail):\n%s", name, tail(d.log, 4000))
		}
	})
	return d
}

// stop ends the daemon and reports a daemon that had died or had to be
// killed.
func (d *daemon) stop() error {
	select {
	case <-d.exited:
		return fmt.Errorf("exited during the test (%v)", d.cmd.ProcessState)
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return nil
	case <-time.After(stopTimeout):
		killGroup(d.cmd.Process.Pid)
		<-d.exited
		return fmt.Errorf("did not stop %v after SIGTERM; killed", stopTimeout)
	}
}

// waitReady polls ready until it succeeds, the daemon exits or
// startTimeout passes.
func (d *daemon) waitReady(t testing.TB, ready func() error) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	start := time.Now()
	for {
		err := ready()
		if err == nil {
			t.Logf("%s ready in %.1fs", d.name, time.Since(start).Seconds())
			return
		}
		select {
		case <-d.exited:
			t.Fatalf("%s exited at start (%v):\n%s", d.name, d.cmd.ProcessState, tail(d.log, 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %v: %v\n%s", d.name, startTimeout, err, tail(d.log, 4000))
		}
	}
}

// tempDir makes a directory with a short path (sockets live in it) and
// registers its removal, after unmounting anything a daemon left mounted
// in it. Registered before the daemon's own cleanup, it runs after it.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unmountUnder(dir); err != nil {
			t.Errorf("unmount under %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// cleanEnv is the environment without what would make an engine or its
// client use another daemon, configuration or an HTTP proxy.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "DOCKER_"), strings.HasPrefix(name, "CONTAINERD_"),
			strings.EqualFold(name, "HTTP_PROXY"), strings.EqualFold(name, "HTTPS_PROXY"),
			strings.EqualFold(name, "NO_PROXY"), strings.EqualFold(name, "ALL_PROXY"):
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "NO_PROXY=*", "no_proxy=*"), extra...)
}

// run runs a client command with a timeout.
func run(env []string, dir string, stdin io.Reader, bin string, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env, cmd.Dir, cmd.Stdin = env, dir, stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (timed out after %v)", err, CommandTimeout)
	}
	return Result{Stdout: stdout.String(), Stderr: stderr.String(), Err: err}
}

// mustSucceed fails the test with the command's output unless it
// succeeded.
func mustSucceed(t testing.TB, r Result, name string, args []string) string {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), r.Err,
			truncate(r.Stdout, 6000), truncate(r.Stderr, 6000))
	}
	return r.Stdout
}

// tail returns the end of a log file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + "\n...[truncated]...\n" + s[len(s)-n/2:]
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
