package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testproc"
)

// TestBackupRestore: `berth backup` copies a serving registry while
// clients push; a backup killed with SIGKILL half-way is not listed and
// the next run completes; `berth backup verify` passes; a second backup
// copies only the new blobs; `berth restore` into a fresh data directory
// gives a server on which every image pushed before the backup pulls with
// its digests (crane validate, skopeo copy) and the image pushed after it
// is absent.
func TestBackupRestore(t *testing.T) {
	if target != "berth" {
		t.Skip("berth's own commands")
	}
	testproc.Need(t, "crane")
	testproc.Need(t, "skopeo")
	reg := startRegistry(t)
	c := newClients(t, reg)
	before := map[string]string{}
	for i := range 4 {
		ref := c.ref("backup/app", fmt.Sprintf("v%d", i))
		before[ref] = pushCraneImage(t, c, ref, 200<<10, 30<<10)
	}
	big := c.ref("backup/big", "v1")
	before[big] = pushCraneImage(t, c, big, 96<<20)

	dest := filepath.Join(t.TempDir(), "backups")
	env := append(os.Environ(), "BERTH_JOBS_LEASE=2s", "BERTH_LOG_LEVEL=warn")
	berth := func(args ...string) *exec.Cmd {
		cmd := exec.Command(serverBin, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		return cmd
	}

	// Pushes go on during every backup below.
	layer := writeRandomTarFile(t, t.TempDir(), 50<<10)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Not pushCraneImage: a failure here must not stop the test
			// from another goroutine; the pushes are load, not checks.
			c.exec(runOpts{}, "crane", "append", "--insecure", "--oci-empty-base", "-t", c.ref("backup/load", fmt.Sprintf("l%d", i)), "-f", layer)
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	// A backup killed once its snapshot is taken, while it copies blobs.
	killed := berth("backup", "--data", reg.DataDir, "--to", dest)
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dest, "snapshots", "*", "blobs.txt")); len(m) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the backup did not start copying")
		}
	}
	killed.Process.Signal(syscall.SIGKILL)
	killed.Wait()
	if complete, _ := filepath.Glob(filepath.Join(dest, "snapshots", "*", "snapshot.json")); len(complete) > 0 {
		t.Logf("the backup finished before it was killed; the kill test is void this time")
	} else if out, err := berth("backup", "list", "--from", dest).CombinedOutput(); err != nil || !strings.Contains(string(out), "no complete snapshot") {
		t.Fatalf("backup list after a killed backup: %v\n%s", err, out)
	}

	// The next backup completes, once the dead one's leases expire.
	time.Sleep(2500 * time.Millisecond)
	out, err := berth("backup", "--data", reg.DataDir, "--to", dest).CombinedOutput()
	if err != nil {
		t.Fatalf("berth backup: %v\n%s", err, out)
	}
	first := backupFigures(t, string(out))
	if out, err := berth("backup", "verify", "--from", dest).CombinedOutput(); err != nil {
		t.Fatalf("berth backup verify: %v\n%s", err, out)
	}

	after := c.ref("backup/after", "v1")
	pushCraneImage(t, c, after, 100<<10)

	// Incremental: a second backup copies only what is new.
	out, err = berth("backup", "--data", reg.DataDir, "--to", dest, "--keep", "1").CombinedOutput()
	if err != nil {
		t.Fatalf("second berth backup: %v\n%s", err, out)
	}
	second := backupFigures(t, string(out))
	if second["skipped"] < first["blobs"] || second["copied"] != second["blobs"]-second["skipped"] || second["copied"] >= first["blobs"] {
		t.Fatalf("second backup is not incremental: first %v, second %v\n%s", first, second, out)
	}
	if out, err := berth("backup", "list", "--from", dest).CombinedOutput(); err != nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("backup list after --keep 1: %v\n%s", err, out)
	}

	// Restore the kept snapshot (the second) into a fresh data directory.
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := berth("restore", "--from", dest, "--data", restored).CombinedOutput(); err != nil {
		t.Fatalf("berth restore: %v\n%s", err, out)
	}
	if out, err := berth("restore", "--from", dest, "--data", restored).CombinedOutput(); err == nil {
		t.Fatalf("a restore over an existing database succeeded:\n%s", out)
	}
	reg2 := startRegistryIn(t, restored, nil)
	c2 := newClients(t, reg2)
	for ref, digest := range before {
		ref2 := strings.Replace(ref, reg.Host, reg2.Host, 1)
		if got := strings.TrimSpace(c2.crane("digest", ref2)); got != digest {
			t.Fatalf("restored %s has digest %s, want %s", ref2, got, digest)
		}
		c2.crane("validate", "--remote", ref2)
	}
	c2.skopeo("copy", "--src-tls-verify=false", "docker://"+strings.Replace(big, reg.Host, reg2.Host, 1), "oci:"+filepath.Join(t.TempDir(), "big")+":v1")
	// The after image was pushed before the second backup: present too.
	c2.crane("validate", "--remote", strings.Replace(after, reg.Host, reg2.Host, 1))
}

// TestRestorePointInTime: an image pushed after a snapshot is not in a
// registry restored from it.
func TestRestorePointInTime(t *testing.T) {
	if target != "berth" {
		t.Skip("berth's own commands")
	}
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	in := c.ref("pit/app", "in")
	inDigest := pushCraneImage(t, c, in, 40<<10)
	dest := filepath.Join(t.TempDir(), "backups")
	if out, err := exec.Command(serverBin, "backup", "--data", reg.DataDir, "--to", dest).CombinedOutput(); err != nil {
		t.Fatalf("berth backup: %v\n%s", err, out)
	}
	out := c.ref("pit/app", "out")
	pushCraneImage(t, c, out, 40<<10)
	restored := filepath.Join(t.TempDir(), "restored")
	if o, err := exec.Command(serverBin, "restore", "--from", dest, "--data", restored).CombinedOutput(); err != nil {
		t.Fatalf("berth restore: %v\n%s", err, o)
	}
	reg2 := startRegistryIn(t, restored, nil)
	c2 := newClients(t, reg2)
	if got := strings.TrimSpace(c2.crane("digest", strings.Replace(in, reg.Host, reg2.Host, 1))); got != inDigest {
		t.Fatalf("restored image: %s, want %s", got, inDigest)
	}
	if r := c2.exec(runOpts{}, "crane", "digest", "--insecure", strings.Replace(out, reg.Host, reg2.Host, 1)); r.Err == nil {
		t.Fatalf("an image pushed after the snapshot is in the restored registry: %s", r.Stdout)
	}
}

var figure = regexp.MustCompile(`(\d+) (blobs|copied|already there)`)

// backupFigures reads `berth backup`'s summary line.
func backupFigures(t testing.TB, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, f := range figure.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(f[1])
		key := f[2]
		if key == "already there" {
			key = "skipped"
		}
		if _, ok := m[key]; !ok {
			m[key] = n
		}
	}
	if len(m) != 3 {
		t.Fatalf("cannot read the backup summary:\n%s", out)
	}
	return m
}
