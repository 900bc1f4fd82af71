// Package scaleout runs Berth the way it scales out, end to end: two
// `berth serve` processes built from ./cmd/berth share one PostgreSQL
// (pgtest) and one S3 bucket (MinIO, s3test), behind nginx that terminates
// TLS with a certificate made by the test and balances with least_conn.
// nginx also fronts MinIO with TLS, where the instances' presigned blob
// URLs point (storage.s3.public_endpoint). Everything listens on 127.0.0.1
// on free ports.
//
// TestScaleOut then, in order: runs the OCI conformance suite through
// nginx; splits a chunked push across the instances by hand; pushes and
// pulls with crane, skopeo, regctl (in chunks), oras (an artifact and a
// referrer), buildah, podman, the Docker daemon and containerd (private
// daemons, internal/enginetest) through nginx, each trusting the test CA
// its own way (dockerd: as an insecure registry), and checks in nginx's
// access log that every push was served by both instances; kills an instance in the middle of a chunked
// push and resumes the push on the other; restarts both instances one
// after the other under a pull load; kills the instance running GC;
// starts a second cluster with access control (token authentication, nginx
// in http.trusted_proxies) where challenges must name nginx's https realm
// and skopeo, crane and docker log in, push and pull with tokens one instance
// issued and the other accepts; and checks that /readyz reports a stopped
// MinIO.
//
// TestScaleOutAzure runs the same cluster with blobs in Azure Blob Storage
// (a real Azurite, aztest) instead of MinIO, redirects off: the conformance
// suite, the split push, crane, and an instance killed mid-chunk.
// TestScaleOutGCS does the same with blobs in Google Cloud Storage (a real
// fake-gcs-server, gcstest).
//
// Tools are looked up in $REPO/.tools/bin and PATH: nginx, PostgreSQL and
// MinIO are needed for the whole test, the clients for their parts.
// A missing tool skips, or fails when CI=true.
package scaleout

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/internal/testproc"
)

// repoRoot is the main module's directory.
var repoRoot string

func TestMain(m *testing.M) {
	var err error
	if repoRoot, err = testproc.ToolsOnPATH(); err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
	os.Exit(pgtest.Run(func() int {
		code := s3test.Main(m)
		aztest.Stop()
		gcstest.Stop()
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		return code
	}))
}

// berthBin is ./cmd/berth, built once per test binary into binDir.
var (
	buildOnce      sync.Once
	binDir         string
	berthBin       string
	berthBuildErrs string
)

// buildBerth builds ./cmd/berth, once for all the clusters of the test
// binary.
func buildBerth(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "scaleout-bin-")
		if err != nil {
			berthBuildErrs = err.Error()
			return
		}
		binDir = dir
		bin := filepath.Join(dir, "berth")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/berth")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the binary as `make build` makes it
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			berthBuildErrs = fmt.Sprintf("go build ./cmd/berth: %v\n%s", err, out.String())
			return
		}
		berthBin = bin
	})
	if berthBin == "" {
		t.Fatal(berthBuildErrs)
	}
	return berthBin
}
