// Package replication_test replicates between real registries started by
// the tests on 127.0.0.1: Berth (in-process, internal/app/apptest), CNCF
// Distribution 2.8 (Debian's docker-registry) and a second Berth, with the
// real cosign, oras, crane and skopeo clients preparing the source and
// checking the destination.
package replication_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/syncbuf"
	"github.com/berth-registry/berth/internal/testproc"
)

func TestMain(m *testing.M) {
	testproc.ToolsOnPATH()     // pinned Go tools; without a go.mod, PATH alone
	os.Exit(pgtest.Run(m.Run)) // PostgreSQL for the scale-out test, started on first use
}

// run runs a tool with env added and fails the test on an error.
func run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// startBerth starts an in-process Berth whose replication job looks often
// and retries fast.
func startBerth(t *testing.T) *apptest.Server {
	t.Helper()
	return apptest.Start(t, func(c *config.Config) {
		c.Registry.DeleteEnabled = true
		c.Jobs.Poll = 100 * time.Millisecond
		c.Replication.Interval = 200 * time.Millisecond
		c.Replication.RetryBase = 200 * time.Millisecond
		c.Replication.RetryMax = time.Second
		c.Replication.Attempts = 30
	})
}

func host(s *apptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// distribution is a CNCF Distribution 2.8 started by the test, with
// htpasswd authentication; stop and start keep its data and address.
type distribution struct {
	t          *testing.T
	addr, cfg  string
	user, pass string
	mu         sync.Mutex
	cmd        *exec.Cmd
	exited     chan struct{}
	out        syncbuf.Buffer
}

func startDistribution(t *testing.T) *distribution {
	t.Helper()
	bin := "/usr/bin/docker-registry"
	if _, err := os.Stat(bin); err != nil {
		testproc.Need(t, "docker-registry")
	}
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("replicator:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
auth:
  htpasswd:
    realm: test
    path: %s
http:
  addr: %s
`, filepath.Join(dir, "data"), htpasswd, addr)
	d := &distribution{t: t, addr: addr, cfg: filepath.Join(dir, "config.yml"), user: "replicator", pass: "s3cret"}
	if err := os.WriteFile(d.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("distribution output:\n%s", d.out.String())
		}
	})
	return d
}

func (d *distribution) start() {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd := exec.Command("/usr/bin/docker-registry", "serve", d.cfg)
	cmd.Env = withoutEnv(os.Environ(), "AWS_CA_BUNDLE")
	cmd.Stdout, cmd.Stderr = &d.out, &d.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	exited := d.exited
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + d.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("distribution did not start: %v\n%s", err, d.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops the process this test started (by its PID).
func (d *distribution) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		d.cmd.Process.Kill()
		<-d.exited
	}
	d.cmd = nil
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// api calls Berth's management API and decodes a JSON answer into out.
func api(t testing.TB, s *apptest.Server, method, path string, body, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// mustAPI is api expecting a status.
func mustAPI(t testing.TB, s *apptest.Server, want int, method, path string, body, out any) {
	t.Helper()
	if got := api(t, s, method, path, body, out); got != want {
		t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// startRun starts a full run of rule and waits for it to end.
func startRun(t testing.TB, s *apptest.Server, rule string) replication.Run {
	t.Helper()
	var run replication.Run
	mustAPI(t, s, http.StatusAccepted, "POST", "/api/v1/replication/rules/"+rule+"/runs", nil, &run)
	return waitRun(t, s, run.ID, time.Minute)
}

// waitRun polls a run until it ends.
func waitRun(t testing.TB, s *apptest.Server, id int64, timeout time.Duration) replication.Run {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var run replication.Run
		mustAPI(t, s, http.StatusOK, "GET", fmt.Sprintf("/api/v1/replication/runs/%d", id), nil, &run)
		if run.Status != "pending" && run.Status != "running" {
			return run
		}
		if time.Now().After(deadline) {
			var tasks struct{ Tasks []replication.Task }
			api(t, s, "GET", fmt.Sprintf("/api/v1/replication/runs/%d/tasks", id), nil, &tasks)
			t.Fatalf("run %d did not end in %v: %+v\ntasks: %+v", id, timeout, run, tasks.Tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failedTasks lists a run's failed tasks (for messages).
func failedTasks(t testing.TB, s *apptest.Server, id int64) []replication.Task {
	var out struct{ Tasks []replication.Task }
	api(t, s, "GET", fmt.Sprintf("/api/v1/replication/runs/%d/tasks?status=failed", id), nil, &out)
	return out.Tasks
}

func execCommand(dir string, env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
