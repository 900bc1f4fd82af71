package scaleout

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testproc"
)

// tools runs client tools with configuration isolated in the test's own
// directories. Each trusts the test CA through its own option (--cert-dir,
// --cacert, --ca-file), except crane, which has none: it gets the CA as
// SSL_CERT_FILE, which Go's TLS reads.
type tools struct {
	dir    string
	env    []string
	caFile string
	// runDir is a short directory for podman's and buildah's runroots.
	runDir string
}

func newTools(t *testing.T, c *cluster) *tools {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "docker", "config.json"), `{"auths":{}}`)
	writeFile(t, filepath.Join(dir, "containers", "auth.json"), `{"auths":{}}`)
	writeFile(t, filepath.Join(dir, "containers", "registries.conf"), "unqualified-search-registries = []\n")
	writeFile(t, filepath.Join(dir, "containers", "policy.json"), `{"default":[{"type":"insecureAcceptAnything"}]}`)
	// podman insists on a runroot in storage.conf even with --runroot,
	// and on one of at most 50 characters: t.TempDir() names are longer.
	run, err := os.MkdirTemp("", "scaleout-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	writeFile(t, filepath.Join(dir, "containers", "storage.conf"), fmt.Sprintf(
		"[storage]\ndriver = \"vfs\"\nrunroot = %q\ngraphroot = %q\n",
		filepath.Join(run, "default"), filepath.Join(dir, "containers", "storage")))
	home := filepath.Join(dir, "home")
	overrides := map[string]string{
		"HOME":                       home,
		"XDG_CONFIG_HOME":            filepath.Join(home, ".config"),
		"XDG_DATA_HOME":              filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME":             filepath.Join(home, ".cache"),
		"DOCKER_CONFIG":              filepath.Join(dir, "docker"),
		"REGCTL_CONFIG":              filepath.Join(dir, "regctl", "config.json"),
		"REGISTRY_AUTH_FILE":         filepath.Join(dir, "containers", "auth.json"),
		"CONTAINERS_REGISTRIES_CONF": filepath.Join(dir, "containers", "registries.conf"),
		"CONTAINERS_STORAGE_CONF":    filepath.Join(dir, "containers", "storage.conf"),
		"TMPDIR":                     dir,
		"NO_PROXY":                   "*",
		"NO_COLOR":                   "1",
	}
	tl := &tools{dir: dir, caFile: c.caFile, runDir: run}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasSuffix(strings.ToLower(name), "_proxy"),
			name == "XDG_RUNTIME_DIR", name == "CONTAINER_HOST", name == "DOCKER_HOST", name == "DOCKER_CONTEXT":
			continue
		}
		if _, ok := overrides[name]; !ok {
			tl.env = append(tl.env, kv)
		}
	}
	for k, v := range overrides {
		tl.env = append(tl.env, k+"="+v)
	}
	return tl
}

// run runs a tool and returns its stdout; the test fails if it fails.
func (tl *tools) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testproc.Need(t, name), args...)
	cmd.Env, cmd.Dir = tl.env, tl.dir
	if name == "crane" {
		cmd.Env = append(slices.Clone(tl.env), "SSL_CERT_FILE="+tl.caFile)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	shown := slices.Clone(args)
	for i, a := range shown {
		if strings.Contains(a, "\n") { // a PEM certificate
			shown[i] = strconv.Quote(a[:min(len(a), 30)] + "...")
		}
	}
	t.Logf("$ %s %s  (%.1fs)", name, strings.Join(shown, " "), time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// layerTar writes a tar holding size random bytes and returns its path.
func layerTar(t *testing.T, dir string, size int, seed uint64) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := randomBytes(size, seed)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "data/random.bin", Mode: 0o644, Size: int64(size),
		ModTime: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "layer.tar")
	writeFile(t, path, buf.String())
	return path
}

// checkLayout checks that every blob of an OCI layout has the digest it is
// named by, and returns how many there are.
func checkLayout(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no blobs in the layout %s: %v", dir, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(b).Encoded(); got != filepath.Base(f) {
			t.Errorf("layout blob %s has digest %s", filepath.Base(f), got)
		}
	}
	return len(files)
}

// crane through nginx: push an image, copy it to another repository (a
// mount), read its digest, validate every blob remotely, and pull it.
func testCrane(t *testing.T, c *cluster) {
	testproc.Need(t, "crane")
	tl := newTools(t, c)
	ref := c.host + "/scaleout/crane:v1"
	mark := c.logMark(t)
	out := tl.run(t, "crane", "append", "--oci-empty-base", "-t", ref, "-f", layerTar(t, tl.dir, 3<<20, 10))
	c.checkSplit(t, mark, "crane append")
	_, dgst, _ := strings.Cut(strings.TrimSpace(out), "@")
	if !strings.HasPrefix(dgst, "sha256:") {
		t.Fatalf("crane append printed %q, want ref@digest", out)
	}
	cp := c.host + "/scaleout/crane-copy:v1"
	tl.run(t, "crane", "copy", ref, cp)
	if got := strings.TrimSpace(tl.run(t, "crane", "digest", cp)); got != dgst {
		t.Fatalf("copied image has digest %s, want %s", got, dgst)
	}
	tl.run(t, "crane", "validate", "--remote", cp)
	layout := filepath.Join(tl.dir, "pulled")
	tl.run(t, "crane", "pull", "--format", "oci", cp, layout)
	if n := checkLayout(t, layout); n != 3 { // manifest, config, layer
		t.Errorf("pulled %d blobs, want 3", n)
	}
}

// skopeo through nginx, trusting the CA with --cert-dir: push a fresh image
// from a docker archive, copy it registry to registry, inspect it, and pull
// it into an OCI layout.
func testSkopeo(t *testing.T, c *cluster) {
	testproc.Need(t, "skopeo")
	testproc.Need(t, "crane") // makes the image to push
	tl := newTools(t, c)
	certs := c.certDir(t)
	archive := filepath.Join(tl.dir, "image.tar")
	tl.run(t, "crane", "append", "--oci-empty-base", "-t", "local/skopeo:v1",
		"-f", layerTar(t, tl.dir, 2<<20, 20), "-o", archive)
	pushed := "docker://" + c.host + "/scaleout/skopeo:v1"
	mark := c.logMark(t)
	tl.run(t, "skopeo", "--insecure-policy", "copy", "--dest-cert-dir", certs, "docker-archive:"+archive, pushed)
	c.checkSplit(t, mark, "skopeo copy")
	copied := "docker://" + c.host + "/scaleout/skopeo-copy:v1"
	tl.run(t, "skopeo", "--insecure-policy", "copy", "--src-cert-dir", certs, "--dest-cert-dir", certs, pushed, copied)
	var info struct{ Digest string }
	out := tl.run(t, "skopeo", "inspect", "--cert-dir", certs, copied)
	if err := json.Unmarshal([]byte(out), &info); err != nil || !strings.HasPrefix(info.Digest, "sha256:") {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	layout := filepath.Join(tl.dir, "pulled")
	tl.run(t, "skopeo", "--insecure-policy", "copy", "--src-cert-dir", certs, copied, "oci:"+layout+":v1")
	if n := checkLayout(t, layout); n != 3 {
		t.Errorf("pulled %d blobs, want 3", n)
	}
}
