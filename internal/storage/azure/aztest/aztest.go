// Package aztest runs a real Azurite (the Azure Storage emulator) for tests
// of code that stores blobs in Azure Blob Storage. One server serves the
// whole test binary; every Start gets a fresh container on it:
//
//	func TestMain(m *testing.M) { os.Exit(aztest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		cfg := aztest.Start(t) // azure.Config for a new, empty container
//		d, err := azure.New(ctx, cfg)
//	}
//
// The azurite binary (azurite-blob, linked as azurite by
// scripts/install-tools.sh) is <repo>/.tools/bin/azurite or found on PATH.
// Without it, Start skips the test, or fails it when CI=true.
package aztest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/berth-registry/berth/internal/freeport"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/testproc"
)

// The well-known development account every Azurite serves.
const (
	Account    = "devstoreaccount1"
	AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

var (
	once       sync.Once
	srv        *server
	srvErr     error
	containers atomic.Int64
)

type server struct {
	proc     *testproc.Process
	dir      string
	endpoint string // http://127.0.0.1:PORT/devstoreaccount1
}

// Main runs the tests, then stops the server if one was started. Use it
// as TestMain: os.Exit(aztest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Start returns the Config of a new, empty container on the shared server,
// starting the server on first use. It clears the AZURE_* environment for
// the test, so it cannot be used in parallel tests.
func Start(t testing.TB) azure.Config {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		testproc.Missing(t, "aztest: %v", err)
	}
	once.Do(func() { srv, srvErr = startServer(bin) })
	if srvErr != nil {
		t.Fatalf("aztest: %v", srvErr)
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AZURE_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	cfg, err := srv.createContainer(fmt.Sprintf("berth-test-%d", containers.Add(1)))
	if err != nil {
		t.Fatalf("aztest: %v", err)
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

func (s *server) createContainer(name string) (azure.Config, error) {
	cfg := azure.Config{AccountName: Account, AccountKey: AccountKey, Endpoint: s.endpoint, Container: name}
	cred, err := container.NewSharedKeyCredential(Account, AccountKey)
	if err != nil {
		return cfg, err
	}
	c, err := container.NewClientWithSharedKeyCredential(s.endpoint+"/"+name, cred, nil)
	if err != nil {
		return cfg, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Create(ctx, nil); err != nil {
		return cfg, fmt.Errorf("create container %s: %w", name, err)
	}
	return cfg, nil
}

// shutdown stops the server (SIGTERM, then SIGKILL after 10 s) and
// removes its data.
func (s *server) shutdown() {
	s.proc.Stop(syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(s.dir)
}

// Binary finds azurite in <repo>/.tools/bin, the repository being the
// nearest directory above the working directory with a go.mod, or
// azurite-blob on PATH.
func Binary() (string, error) { return testproc.Find("azurite", "azurite-blob") }

func startServer(bin string) (*server, error) {
	dir, err := os.MkdirTemp("", "berth-azurite-")
	if err != nil {
		return nil, err
	}
	s, err := launch(bin, dir)
	if err != nil {
		os.RemoveAll(dir)
	}
	return s, err
}

// launch starts azurite-blob on a free loopback port, storing its data in
// dir (on disk rather than in memory: benchmarks write gigabytes).
func launch(bin, dir string) (*server, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
		"--location", filepath.Join(dir, "data"), "--skipApiVersionCheck", "--loose",
		"--disableProductStyleUrl", "--disableTelemetry", "--silent")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AZURITE_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+dir)
	proc, err := testproc.Start(cmd, filepath.Join(dir, "azurite.log"), syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	s := &server{proc: proc, dir: dir, endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, Account)}
	if err := proc.WaitReady(60*time.Second, 100*time.Millisecond, testproc.HTTPReady(s.endpoint+"?comp=list", 0)); err != nil {
		return nil, err
	}
	return s, nil
}
