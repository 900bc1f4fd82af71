package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/syncbuf"
)

// registry is one server under test, started for one test (or group).
type registry struct {
	// Host is the host:port clients use: the recording proxy in front of
	// the server, or the server itself with E2E_PROXY=0.
	Host string
	// Direct is the server's own host:port.
	Direct string
	// DataDir is the server's storage directory.
	DataDir string

	cmd    *exec.Cmd
	output *syncbuf.Buffer
	exited chan struct{}
	proxy  *recordingProxy
}

// URL returns an http URL on the address clients use.
func (r *registry) URL(path string) string { return "http://" + r.Host + path }

// Requests returns the HTTP requests the proxy has seen so far (none with
// E2E_PROXY=0).
func (r *registry) Requests() []requestRecord {
	if r.proxy == nil {
		return nil
	}
	return r.proxy.records()
}

// startRegistry starts a fresh server with its own data directory and free
// port, waits until GET /v2/ answers 200, and stops it when the test ends.
// If the test failed, the server's output and the requests it served are
// logged.
func startRegistry(t testing.TB) *registry {
	t.Helper()
	return startRegistryEnv(t, nil)
}

// startRegistryEnv is startRegistry with extra environment variables for
// the server (BERTH_* configuration); with them, a 401 on GET /v2/ also
// counts as ready (access control on).
func startRegistryEnv(t testing.TB, extraEnv []string) *registry {
	t.Helper()
	return startRegistryIn(t, "", extraEnv)
}

// startRegistryIn is startRegistryEnv on an existing data directory
// ("" for a fresh one).
func startRegistryIn(t testing.TB, dataDir string, extraEnv []string) *registry {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := tryStartRegistry(t, dataDir, extraEnv)
		if err == nil {
			return r
		}
		lastErr = err
		if !errors.Is(err, errPortTaken) {
			break
		}
	}
	t.Fatalf("start %s: %v", target, lastErr)
	return nil
}

var errPortTaken = errors.New("port taken")

func tryStartRegistry(t testing.TB, dataDir string, extraEnv []string) (*registry, error) {
	dir := t.TempDir()
	if dataDir == "" {
		dataDir = filepath.Join(dir, "data")
	}
	r := &registry{
		DataDir: dataDir,
		output:  &syncbuf.Buffer{},
		exited:  make(chan struct{}),
	}
	if err := os.MkdirAll(r.DataDir, 0o755); err != nil {
		return nil, err
	}
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	r.Direct = fmt.Sprintf("127.0.0.1:%d", port)

	var args []string
	env := os.Environ()
	switch target {
	case "berth":
		args = []string{"serve", "--addr", r.Direct, "--data", r.DataDir}
		if os.Getenv("BERTH_LOG_LEVEL") == "" {
			env = append(env, "BERTH_LOG_LEVEL=warn")
		}
	default: // distribution, distribution3
		cfg := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfg, []byte(distributionConfig(r.Direct, r.DataDir)), 0o644); err != nil {
			return nil, err
		}
		args = []string{"serve", cfg}
		// Distribution's S3 driver trips over this; it does no harm to drop.
		env = withoutEnv(env, "AWS_CA_BUNDLE")
	}
	r.cmd = exec.Command(serverBin, args...)
	r.cmd.Env = append(env, extraEnv...)
	r.cmd.Stdout = r.output
	r.cmd.Stderr = r.output
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, err
	}
	var waitErr error
	go func() {
		waitErr = r.cmd.Wait()
		close(r.exited)
	}()

	if err := r.waitReady(10*time.Second, len(extraEnv) > 0); err != nil {
		r.kill()
		out := r.output.String()
		if strings.Contains(out, "address already in use") {
			return nil, fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return nil, fmt.Errorf("%v\nserver output:\n%s", err, out)
	}

	r.Host = r.Direct
	if os.Getenv("E2E_PROXY") != "0" {
		p, err := startRecordingProxy(r.Direct)
		if err != nil {
			r.kill()
			return nil, err
		}
		r.proxy = p
		r.Host = p.addr
	}

	t.Cleanup(func() {
		if r.proxy != nil {
			r.proxy.close()
		}
		stopErr := r.stop(15 * time.Second)
		<-r.exited
		if os.Getenv("E2E_TRACE") == "1" || t.Failed() {
			t.Logf("requests served by %s:\n%s", target, formatRecords(r.Requests()))
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", target, r.output.String())
		}
		if stopErr != nil {
			t.Errorf("stop %s: %v", target, stopErr)
		} else if target == "berth" && waitErr != nil {
			// berth should shut down cleanly on SIGTERM.
			t.Errorf("berth exited with %v after SIGTERM; output:\n%s", waitErr, r.output.String())
		}
	})
	return r, nil
}

func (r *registry) waitReady(timeout time.Duration, authOK bool) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			return fmt.Errorf("server exited before it was ready (%v)", r.cmd.ProcessState)
		default:
		}
		resp, err := client.Get("http://" + r.Direct + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || authOK && resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("GET /v2/ not 200 after %v (last: %s)", timeout, last)
}

// stop sends SIGTERM and waits; after the timeout it kills the server and
// reports that.
func (r *registry) stop(timeout time.Duration) error {
	select {
	case <-r.exited:
		return fmt.Errorf("server had exited during the test (%v)", r.cmd.ProcessState)
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		return nil
	case <-time.After(timeout):
		r.kill()
		return fmt.Errorf("server did not exit %v after SIGTERM; killed", timeout)
	}
}

func (r *registry) kill() {
	_ = r.cmd.Process.Kill()
	<-r.exited
}

func distributionConfig(addr, dataDir string) string {
	return fmt.Sprintf(`version: 0.1
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
http:
  addr: %s
`, dataDir, addr)
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
