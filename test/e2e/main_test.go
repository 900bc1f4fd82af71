// Package e2e runs real registry clients (skopeo, crane, regctl, oras,
// podman, buildah, helm, cosign, and private Docker daemons and containerd
// from internal/enginetest) against the built berth binary.
//
// Environment:
//
//	E2E_TARGET=berth (default)   build ./cmd/berth once and test it
//	E2E_TARGET=distribution      test /usr/bin/docker-registry (CNCF
//	                             Distribution 2.8) instead, to check the
//	                             tests themselves; it lacks the referrers API
//	E2E_TARGET=distribution3     test a Distribution v3 `registry` binary
//	                             (E2E_REGISTRY_BIN or `registry` in PATH)
//	E2E_PROXY=0                  let clients talk to the server directly
//	                             instead of through the recording proxy
//	E2E_TRACE=1                  log every HTTP request of every test
//	E2E_LARGE_BLOB_MIB=N         size of the large-blob scenario (512)
//	CI=true                      a missing client tool fails instead of
//	                             skipping
//
// Tools are looked up in PATH and in $REPO/.tools/bin (where
// scripts/install-tools.sh puts crane, regctl, oras, helm and cosign).
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/internal/testproc"
)

var (
	// repoRoot is the main module's directory.
	repoRoot string
	// target is the registry implementation under test.
	target string
	// serverBin is the binary started for each test server.
	serverBin string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	if repoRoot, err = testproc.ToolsOnPATH(); err != nil { // pinned Go tools
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}

	target = os.Getenv("E2E_TARGET")
	if target == "" {
		target = "berth"
	}
	switch target {
	case "berth":
		tmp, err := os.MkdirTemp("", "berth-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(tmp)
		serverBin = filepath.Join(tmp, "berth")
		cmd := exec.Command("go", "build", "-o", serverBin, "./cmd/berth")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the binary as `make build` makes it
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/berth: %v\n%s", err, out.String())
			return 1
		}
	case "distribution":
		serverBin = "/usr/bin/docker-registry"
		if p := os.Getenv("E2E_REGISTRY_BIN"); p != "" {
			serverBin = p
		}
		if _, err := os.Stat(serverBin); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: E2E_TARGET=distribution needs %s (apt-get install docker-registry): %v\n", serverBin, err)
			return 1
		}
	case "distribution3":
		serverBin = os.Getenv("E2E_REGISTRY_BIN")
		if serverBin == "" {
			serverBin, err = exec.LookPath("registry")
			if err != nil {
				fmt.Fprintln(os.Stderr, "e2e: E2E_TARGET=distribution3 needs E2E_REGISTRY_BIN or `registry` in PATH")
				return 1
			}
		}
	default:
		fmt.Fprintf(os.Stderr, "e2e: unknown E2E_TARGET %q (berth, distribution, distribution3)\n", target)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: target %s (%s)\n", target, serverBin)
	defer aztest.Stop()  // if a test started Azurite
	defer gcstest.Stop() // if a test started fake-gcs-server
	code := m.Run()
	s3test.Stop() // MinIO, if a test started it
	return code
}
