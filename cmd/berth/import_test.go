package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/compat/distribution/layouttest"
	"github.com/berth-registry/berth/internal/config"
)

// TestImportResumesAfterSIGKILL: `berth import` killed (SIGKILL) in the
// middle resumes where its saved progress says, and ends with every
// manifest imported once; a dry run before writes nothing; a dangling tag
// is reported with exit status 2; `berth serve` then serves the images.
func TestImportResumesAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "berth")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "registry")
	const repos, per = 300, 4
	l := &layouttest.Layout{Root: root}
	if err := l.Generate(repos, per); err != nil {
		t.Fatal(err)
	}
	if err := l.Tag("bench/repo-00007", "dangling", digest.Digest("sha256:"+strings.Repeat("1", 64))); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "BERTH_LOG_FORMAT=text")
	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	out, code := run("import", "--dry-run", "--from", root)
	if code != 2 || !strings.Contains(out, fmt.Sprintf("would import %d repositories: %d manifests", repos, repos*per)) ||
		!strings.Contains(out, "dangling tag: bench/repo-00007 dangling") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "berth")); !os.IsNotExist(err) {
		t.Fatalf("the dry run wrote Berth's directory: %v", err)
	}

	// Kill the import once its progress shows repositories done.
	cmd := exec.Command(bin, "import", "--from", root, "--progress-every", "20ms")
	cmd.Env = env
	stderr, _ := cmd.StderrPipe()
	cmd.Stdout = io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := regexp.MustCompile(`repositories_done=([0-9]+)`)
	sc := bufio.NewScanner(stderr)
	killedAt := ""
	for sc.Scan() {
		if m := done.FindStringSubmatch(sc.Text()); m != nil && m[1] != "0" {
			cmd.Process.Signal(syscall.SIGKILL)
			killedAt = m[1]
			break
		}
	}
	go io.Copy(io.Discard, stderr)
	cmd.Wait()
	if killedAt == "" {
		t.Fatal("the import ended before it showed progress; nothing was killed")
	}
	t.Logf("killed after %s repositories", killedAt)

	out, code = run("import", "--from", root)
	if code != 2 || !strings.Contains(out, "resuming an interrupted run") {
		t.Fatalf("resumed import: exit %d\n%s", code, out)
	}
	m := regexp.MustCompile(`imported \d+ repositories: (\d+) manifests \((\d+) already there\)`).FindStringSubmatch(out)
	var imported, existing int
	if m != nil {
		fmt.Sscan(m[1], &imported)
		fmt.Sscan(m[2], &existing)
	}
	if m == nil || imported+existing != repos*per || imported == repos*per {
		t.Fatalf("resumed import did not add up to %d manifests, or started over:\n%s", repos*per, out)
	}
	out, code = run("import", "--from", root)
	if code != 2 || !strings.Contains(out, fmt.Sprintf("0 manifests (%d already there)", repos*per)) {
		t.Fatalf("import again: exit %d\n%s", code, out)
	}

	// Served in place.
	addr := freeAddr(t)
	srv := exec.Command(bin, "serve", "--addr", addr, "--data", filepath.Join(root, "berth"))
	srv.Env = append(env, "BERTH_STORAGE_DISTRIBUTION_ENABLED=true", "BERTH_STORAGE_DISTRIBUTION_ROOT="+root)
	srv.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	var resp *http.Response
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v2/bench/repo-00299/manifests/t3", nil)
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		if resp, _ = http.DefaultClient.Do(req); resp != nil {
			break
		}
	}
	if resp == nil || resp.StatusCode != 200 {
		t.Fatalf("GET bench/repo-00299:t3: %v", resp)
	}
	resp.Body.Close()
	blob := "http://" + addr + "/v2/bench/repo-00299/blobs/" + digest.FromString("layer 3 of bench/repo-00299").String()
	if resp, err := http.Get(blob); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET an adopted blob: %v %v", resp, err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "layer 3 of bench/repo-00299" {
			t.Errorf("adopted blob content %q", b)
		}
	}
}

// TestImportConfig: what --from names, and Berth's configuration it gives.
func TestImportConfig(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "registry")
	os.MkdirAll(filepath.Join(root, "docker", "registry", "v2"), 0o755)
	dist := filepath.Join(dir, "config.yml")
	os.WriteFile(dist, []byte("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: "+root+"\n"), 0o644)
	berthConf := filepath.Join(dir, "berth.yaml")
	os.WriteFile(berthConf, []byte("version: 1\ndata: "+filepath.Join(dir, "own")+"\n"), 0o644)
	s3Conf := filepath.Join(dir, "s3.yaml")
	os.WriteFile(s3Conf, []byte("version: 1\nstorage:\n  driver: s3\n  s3:\n    bucket: b\n"), 0o644)
	tests := []struct {
		name, from, config string
		wantData, wantRoot string
		wantNote           bool
		wantErr            string
	}{
		{"distribution config", dist, "", filepath.Join(root, "berth"), root, false, ""},
		{"distribution config and berth's", dist, berthConf, filepath.Join(dir, "own"), root, true, ""},
		{"distribution config and s3", dist, s3Conf, "", "", false, "must be Distribution's"},
		{"root directory", root, "", filepath.Join(root, "berth"), root, true, ""},
		{"root directory and berth's config", root, berthConf, filepath.Join(dir, "own"), root, true, ""},
		{"not a registry", dir, "", "", "", false, "holds no Distribution storage"},
		{"berth's config as the source", berthConf, "", "", "", false, "not a Distribution configuration"},
		{"missing", filepath.Join(dir, "nothing"), "", "", "", false, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, note, err := importConfig(tc.from, tc.config, nil, config.Overrides{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Data != tc.wantData || !cfg.Storage.Distribution.Enabled || cfg.Storage.Distribution.Root != tc.wantRoot {
				t.Errorf("data %s, adoption %+v; want %s, %s", cfg.Data, cfg.Storage.Distribution, tc.wantData, tc.wantRoot)
			}
			if (note != "") != tc.wantNote {
				t.Errorf("note %q", note)
			}
		})
	}
}
