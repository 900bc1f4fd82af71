package ops

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
)

// mountTmpfs mounts a tmpfs of size bytes at a new directory and unmounts
// it when the test ends. Mounting needs root: without it the test is
// skipped (failed with CI=true).
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs (needs root): %v %s", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// usedRatio is how full the filesystem at dir is, as Berth's metrics
// compute it (1 - available/size).
func usedRatio(t *testing.T, dir string) float64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return 1 - float64(st.Bavail)/float64(st.Blocks)
}

// TestDiskFillAlerts: Berth stores its blobs on a 4 MiB tmpfs; pushing
// blobs fills it past 80%, which fires BerthDiskUsageWarning (and not the
// critical alert), then past 85%, which fires BerthDiskUsageCritical, in a
// real Prometheus evaluating the shipped rules (evaluation every second,
// "for:" shortened to 2s).
func TestDiskFillAlerts(t *testing.T) {
	needTool(t, "prometheus")
	root := mountTmpfs(t, 4<<20)
	s := startBerth(t, func(c *config.Config) { c.Storage.Filesystem.Root = root })
	p := startPrometheus(t, strings.TrimPrefix(s.URL, "http://"), fastRules(t))
	storage := map[string]string{"volume": "storage"}

	n := 0
	fill := func(to float64) {
		t.Helper()
		for usedRatio(t, root) < to {
			blob := make([]byte, 128<<10)
			rand.Read(blob)
			resp, err := http.Post(s.URL+"/v2/fill/app/blobs/uploads/?digest="+digest.FromBytes(blob).String(),
				"application/octet-stream", bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("push %d at %.0f%% full: %s", n, 100*usedRatio(t, root), resp.Status)
			}
			n++
		}
		t.Logf("%d blobs pushed: %.1f%% full", n, 100*usedRatio(t, root))
	}

	// Only the storage volume's alerts are checked here: the database's
	// volume is the machine's own disk, whose fill is not the test's (see
	// the end).
	for _, name := range []string{"BerthDiskUsageWarning", "BerthDiskUsageCritical"} {
		if ok, err := p.firing(name, storage); err != nil || ok {
			t.Fatalf("%s fires on an empty disk (%v)", name, err)
		}
	}
	fill(0.81)
	start := time.Now()
	p.waitFor(t, "BerthDiskUsageWarning", time.Minute, func() (bool, error) {
		return p.firing("BerthDiskUsageWarning", storage)
	})
	t.Logf("warning fired %v after passing 80%%", time.Since(start).Round(100*time.Millisecond))
	time.Sleep(3 * time.Second) // longer than a "for:" and two evaluations
	if ok, err := p.firing("BerthDiskUsageCritical", storage); err != nil || ok {
		t.Fatalf("BerthDiskUsageCritical fires at %.1f%% (%v)", 100*usedRatio(t, root), err)
	}
	fill(0.86)
	start = time.Now()
	p.waitFor(t, "BerthDiskUsageCritical", time.Minute, func() (bool, error) {
		return p.firing("BerthDiskUsageCritical", storage)
	})
	t.Logf("critical fired %v after passing 85%%", time.Since(start).Round(100*time.Millisecond))
	// The database's volume (the machine's own disk) raised nothing, as
	// long as that disk is itself below the warning threshold.
	if r := usedRatio(t, filepath.Dir(s.Config.Database.SQLite.Path)); r >= 0.78 {
		t.Logf("the machine's disk is %.0f%% full by Berth's measure: its alert is not checked", 100*r)
	} else if ok, err := p.firing("BerthDiskUsageWarning", map[string]string{"volume": "database"}); err != nil || ok {
		t.Errorf("the database volume alerts at %.0f%% full (%v)", 100*r, err)
	}
}
