// Package deploy checks the ways Berth is packaged (docs/deploy.md):
//
//   - the container image (deploy/image): built with `make image`'s script
//     by a private Docker daemon (internal/enginetest), run the way
//     registry:2 is run (--network host here: no bridge on these
//     machines) with htpasswd auth and a data volume; the Docker daemon
//     logs in, pushes and pulls through it, the HEALTHCHECK turns healthy,
//     the server runs as a non-root user and its data lands in the volume;
//   - the Compose set-up (deploy/compose): `docker-compose config`;
//   - the Helm chart (deploy/helm/berth): `helm lint` and `helm template`
//     with each values file in its ci/ directory, rendered fields checked;
//   - the systemd unit (deploy/systemd): `systemd-analyze verify`, and its
//     example configuration through `berth config check`.
//
// Tools come from PATH and $REPO/.tools/bin (helm); a missing one skips
// its test, or fails it when CI=true.
package deploy

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testproc"
)

// repoRoot is the main module's directory.
var repoRoot string

func TestMain(m *testing.M) {
	var err error
	if repoRoot, err = testproc.ToolsOnPATH(); err != nil {
		fmt.Fprintln(os.Stderr, "deploy:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// need returns the path of a program, or skips the test (fails it when
// CI=true) if it is missing.
func need(t *testing.T, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testproc.Missing(t, "%s not found (%s)", name, install)
	}
	return p
}

// command runs a program with a timeout and returns its stdout; stderr is
// in the error.
func command(dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// mustRun is command that fails the test on error.
func mustRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	start := time.Now()
	out, err := command(dir, env, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("$ %s %s  (%.1fs)", filepath.Base(name), strings.Join(args, " "), time.Since(start).Seconds())
	return out
}
