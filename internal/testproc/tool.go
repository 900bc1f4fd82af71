// Package testproc runs the external programs tests depend on (MinIO,
// Azurite, fake-gcs-server, PostgreSQL, registry clients): it finds a tool
// in the repository's .tools/bin or on PATH, skips a test that lacks one
// (fails it when CI=true), and starts a server as a child that the kernel
// kills should the test binary die first (Linux), waits until it answers,
// and stops it. Process needs no *testing.T: benchmark harnesses start
// the same emulators.
package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ErrNotFound is returned by Find for a tool neither in .tools/bin nor on
// PATH.
var ErrNotFound = errors.New("not found")

// Root returns the repository: the nearest directory above the working
// directory with a go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Find returns <Root>/.tools/bin/name if it exists, else the path of
// pathName on PATH (name when pathName is empty: Azurite is linked as
// azurite in .tools/bin but installed as azurite-blob).
func Find(name, pathName string) (string, error) {
	if root, err := Root(); err == nil {
		bin := filepath.Join(root, ".tools", "bin", name)
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
	}
	if pathName == "" {
		pathName = name
	}
	bin, err := exec.LookPath(pathName)
	if err != nil {
		where := "on PATH"
		if pathName != name {
			where = pathName + " on PATH"
		}
		return "", fmt.Errorf("%w: no %s in .tools/bin or %s (run scripts/install-tools.sh)", ErrNotFound, name, where)
	}
	return bin, nil
}

// ToolsOnPATH puts <Root>/.tools/bin first in PATH, for tests that run
// tools by name (and the tools those run): `make` does it, a bare
// `go test` does not. It returns Root.
func ToolsOnPATH() (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	os.Setenv("PATH", filepath.Join(root, ".tools", "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return root, nil
}

// Need returns the path of a tool on PATH (with .tools/bin first once
// TestMain called ToolsOnPATH); a missing one skips the test, or fails it
// when CI=true (CI must run every scenario).
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s not found (run scripts/install-tools.sh): %v", name, err)
	}
	return p
}

// Missing skips the test for want of a component, or fails it when
// CI=true.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
