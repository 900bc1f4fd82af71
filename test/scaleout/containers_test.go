package scaleout

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testproc"
)

// store is one containers/storage for podman and buildah (vfs driver, as
// root; no container is ever run), in the test's directories.
type store struct {
	tl   *tools
	root string
	args []string
}

func newStore(t *testing.T, tl *tools, name string) *store {
	t.Helper()
	root, runroot := filepath.Join(tl.dir, "storage-"+name), filepath.Join(tl.runDir, name)
	for _, d := range []string{filepath.Join(root, "tmp"), runroot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return &store{tl: tl, root: root, args: []string{"--storage-driver", "vfs", "--root", root, "--runroot", runroot}}
}

func (s *store) buildah(t *testing.T, args ...string) string {
	t.Helper()
	return s.tl.run(t, "buildah", append(slices.Clone(s.args), args...)...)
}

func (s *store) podman(t *testing.T, args ...string) string {
	t.Helper()
	global := append(slices.Clone(s.args), "--tmpdir", filepath.Join(s.root, "tmp"),
		"--events-backend", "none", "--cgroup-manager", "cgroupfs")
	return s.tl.run(t, "podman", append(global, args...)...)
}

// buildah and podman through nginx, trusting the CA with --cert-dir:
// buildah builds an image from scratch and pushes it; podman pulls it into
// a fresh store, sees the pushed digest, and pushes it to another
// repository, whose digest (podman's --digestfile) the registry serves.
func testPodmanBuildah(t *testing.T, c *cluster) {
	testproc.Need(t, "buildah")
	testproc.Need(t, "podman")
	tl := newTools(t, c)
	certs := c.certDir(t)
	policy := filepath.Join(tl.dir, "containers", "policy.json")
	hello := "hello from buildah " + filepath.Base(tl.dir) + "\n"
	writeFile(t, filepath.Join(tl.dir, "hello.txt"), hello)

	build := newStore(t, tl, "build")
	build.buildah(t, "from", "--name", "scaleout", "scratch")
	build.buildah(t, "copy", "scaleout", filepath.Join(tl.dir, "hello.txt"), "/hello.txt")
	build.buildah(t, "config", "--os", "linux", "--arch", "amd64", "--label", "org.berth.scaleout=1", "scaleout")
	build.buildah(t, "commit", "--signature-policy", policy, "scaleout", "localhost/scaleout/buildah:1")
	ref := c.host + "/scaleout/buildah:1"
	mark := c.logMark(t)
	build.buildah(t, "push", "--signature-policy", policy, "--cert-dir", certs, "--format", "oci",
		"--digestfile", filepath.Join(tl.dir, "buildah.digest"), "localhost/scaleout/buildah:1", "docker://"+ref)
	c.checkSplit(t, mark, "buildah push")
	pushed := string(readFile(t, filepath.Join(tl.dir, "buildah.digest")))
	if got := c.manifestDigest(t, "scaleout/buildah", "1"); got != pushed {
		t.Fatalf("the registry serves scaleout/buildah:1 as %s, buildah pushed %s", got, pushed)
	}

	run := newStore(t, tl, "podman")
	run.podman(t, "pull", "--signature-policy", policy, "--cert-dir", certs, ref)
	var info []struct {
		Digest string
		Labels map[string]string
	}
	out := run.podman(t, "image", "inspect", ref)
	if err := json.Unmarshal([]byte(out), &info); err != nil || len(info) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	if info[0].Digest != pushed || info[0].Labels["org.berth.scaleout"] != "1" {
		t.Errorf("podman pulled digest %s labels %v, want %s with the label", info[0].Digest, info[0].Labels, pushed)
	}
	mark = c.logMark(t)
	run.podman(t, "push", "--signature-policy", policy, "--cert-dir", certs,
		"--digestfile", filepath.Join(tl.dir, "podman.digest"), ref, "docker://"+c.host+"/scaleout/podman:1")
	c.checkSplit(t, mark, "podman push")
	if got, want := c.manifestDigest(t, "scaleout/podman", "1"), string(readFile(t, filepath.Join(tl.dir, "podman.digest"))); got != want {
		t.Fatalf("the registry serves scaleout/podman:1 as %s, podman pushed %s", got, want)
	}
}

// manifestDigest GETs a manifest through nginx and returns the digest of
// the bytes served.
func (c *cluster) manifestDigest(t *testing.T, repo, ref string) string {
	t.Helper()
	resp, body := c.send(t, "GET", c.url+"/v2/"+repo+"/manifests/"+ref, nil, "Accept", strings.Join([]string{
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
	}, ", "))
	expect(t, "GET "+repo+":"+ref, resp, body, http.StatusOK)
	return digest.FromString(body).String()
}
