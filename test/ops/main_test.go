// Package ops tests the operations kit in deploy/: the Prometheus rules
// (promtool check and unit tests), the Grafana dashboard's queries, and a
// real Prometheus scraping a running Berth: every metric a rule or a panel
// uses exists, and filling a small data filesystem fires the disk alerts.
package ops

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// needTool returns the path of a tool. A missing tool skips the test, or
// fails it when CI=true (CI must run every scenario).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (scripts/install-tools.sh installs it with the Debian package prometheus): %v", name, err)
		}
		t.Skipf("%s not found (scripts/install-tools.sh installs it with the Debian package prometheus): %v", name, err)
	}
	return p
}

// deployDir is the repository's deploy/ directory.
func deployDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "deploy")
}

// promtool runs promtool with args in dir and returns its output; a
// failure fails the test.
func promtool(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(needTool(t, "promtool"), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	return string(out)
}
