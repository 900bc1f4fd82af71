// Package browser drives the web UI in a real Chromium (Debian's
// `chromium`, through the DevTools protocol with chromedp) against the
// built berth binary: access control on (an admin password), SQLite and
// the filesystem, on a free 127.0.0.1 port.
//
// Each test opens its own browser context (cookies of its own) in one
// shared headless browser, clicks through the pages the way a person
// would, selecting elements by ids, names, form actions and data-
// attributes (never by English text, so the same steps work in Chinese),
// and saves screenshots of what it saw.
//
// Environment:
//
//	BERTH_CHROMIUM=PATH       the browser (default /usr/bin/chromium, then
//	                          chromium in PATH)
//	BERTH_SCREENSHOTS=DIR     where screenshots go (default: a new temporary
//	                          directory, printed at the start)
//	BROWSER_TRACE=1           log the browser's console and the server log
//	CI=true                   a missing browser or client fails instead of
//	                          skipping
package browser

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

var (
	// repoRoot is the main module's directory.
	repoRoot string
	// serverBin is the berth binary built for this run.
	serverBin string
	// chromiumPath is the browser, or "" when there is none.
	chromiumPath string
	// chromiumErr says why there is no browser.
	chromiumErr string
	// shotDir is where screenshots are saved.
	shotDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	if repoRoot, err = testproc.ToolsOnPATH(); err != nil { // crane is in .tools/bin
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}

	chromiumPath, chromiumErr = findChromium()

	shotDir = os.Getenv("BERTH_SCREENSHOTS")
	if shotDir == "" {
		if shotDir, err = os.MkdirTemp("", "berth-screenshots-"); err != nil {
			fmt.Fprintln(os.Stderr, "browser:", err)
			return 1
		}
	} else if err := os.MkdirAll(shotDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "browser: screenshots in %s\n", shotDir)

	tmp, err := os.MkdirTemp("", "berth-browser-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser:", err)
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
		fmt.Fprintf(os.Stderr, "browser: go build ./cmd/berth: %v\n%s", err, out.String())
		return 1
	}
	code := m.Run()
	stopBrowser()
	return code
}

// findChromium returns the browser's path, or why there is none.
func findChromium() (string, string) {
	if p := os.Getenv("BERTH_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("BERTH_CHROMIUM: %v", err)
		}
		return p, ""
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", ""
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, ""
	}
	return "", "no /usr/bin/chromium and no chromium in PATH (make tools installs Debian's chromium)"
}
