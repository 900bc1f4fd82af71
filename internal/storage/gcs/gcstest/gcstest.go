// Package gcstest runs a real fake-gcs-server (a Google Cloud Storage
// emulator speaking the JSON and XML APIs) for tests of code that stores
// objects in GCS. One server serves the whole test binary; every Start gets
// a fresh bucket on it:
//
//	func TestMain(m *testing.M) { os.Exit(gcstest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		cfg := gcstest.Start(t) // gcs.Config for a new, empty bucket
//		d, err := gcs.New(ctx, cfg)
//	}
//
// The fake-gcs-server binary (built at a pinned version by
// scripts/install-tools.sh) is <repo>/.tools/bin/fake-gcs-server or found
// on PATH. Without it, Start skips the test, or fails it when CI=true.
package gcstest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/testproc"
)

var (
	once    sync.Once
	srv     *server
	srvErr  error
	buckets atomic.Int64
)

type server struct {
	proc     *testproc.Process
	dir      string
	endpoint string // http://127.0.0.1:PORT
}

// Main runs the tests, then stops the server if one was started. Use it
// as TestMain: os.Exit(gcstest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Start returns the Config of a new, empty bucket on the shared server
// (anonymous requests to its endpoint), starting the server on first use.
func Start(t testing.TB) gcs.Config {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		testproc.Missing(t, "gcstest: %v", err)
	}
	once.Do(func() { srv, srvErr = startServer(bin, "memory") })
	if srvErr != nil {
		t.Fatalf("gcstest: %v", srvErr)
	}
	cfg, err := srv.createBucket(fmt.Sprintf("berth-test-%d", buckets.Add(1)))
	if err != nil {
		t.Fatalf("gcstest: %v", err)
	}
	return cfg
}

// Stop stops the shared server (by its PID) and removes its data.
func Stop() {
	if srv == nil {
		return
	}
	srv.shutdown()
	srv = nil
}

// createBucket creates a bucket with the JSON API (the emulator accepts
// any project).
func (s *server) createBucket(name string) (gcs.Config, error) {
	cfg := gcs.Config{Bucket: name, Endpoint: s.endpoint, Anonymous: true}
	resp, err := testproc.Direct.Post(s.endpoint+"/storage/v1/b?project=berth-test", "application/json",
		strings.NewReader(fmt.Sprintf(`{"name":%q}`, name)))
	if err != nil {
		return cfg, fmt.Errorf("create bucket %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return cfg, fmt.Errorf("create bucket %s: %s", name, resp.Status)
	}
	return cfg, nil
}

// shutdown stops the server (SIGTERM, then SIGKILL after 10 s) and
// removes its data.
func (s *server) shutdown() {
	s.proc.Stop(syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(s.dir)
}

// Binary finds fake-gcs-server in <repo>/.tools/bin, the repository being
// the nearest directory above the working directory with a go.mod, or on
// PATH.
func Binary() (string, error) { return testproc.Find("fake-gcs-server", "") }

// startServer starts fake-gcs-server with a backend: "memory" for tests,
// "filesystem" (in a temp dir) for benchmarks that write gigabytes.
func startServer(bin, backend string) (*server, error) {
	dir, err := os.MkdirTemp("", "berth-fakegcs-")
	if err != nil {
		return nil, err
	}
	s, err := launch(bin, dir, backend)
	if err != nil {
		os.RemoveAll(dir)
	}
	return s, err
}

// launch starts fake-gcs-server on a free loopback port, plain HTTP.
func launch(bin, dir, backend string) (*server, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
		"-public-host", addr, "-external-url", "http://"+addr,
		"-backend", backend, "-filesystem-root", filepath.Join(dir, "data"), "-log-level", "warn")
	cmd.Dir = dir
	proc, err := testproc.Start(cmd, filepath.Join(dir, "fake-gcs-server.log"), syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	s := &server{proc: proc, dir: dir, endpoint: "http://" + addr}
	if err := proc.WaitReady(60*time.Second, 100*time.Millisecond, testproc.HTTPReady(s.endpoint+"/storage/v1/b", http.StatusOK)); err != nil {
		return nil, err
	}
	return s, nil
}
