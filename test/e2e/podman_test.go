package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// containerStore is one isolated containers/storage (vfs driver, as root;
// no container is ever run).
type containerStore struct {
	c    *clients
	base string
	args []string
}

func newContainerStore(c *clients, name string) *containerStore {
	base := filepath.Join(c.dir, "storage-"+name)
	runroot := filepath.Join(c.runDir, name)
	for _, d := range []string{filepath.Join(base, "root"), filepath.Join(base, "tmp"), runroot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			c.t.Fatal(err)
		}
	}
	return &containerStore{c: c, base: base, args: []string{
		"--storage-driver", "vfs",
		"--root", filepath.Join(base, "root"),
		"--runroot", runroot,
	}}
}

func (s *containerStore) buildah(args ...string) string {
	s.c.t.Helper()
	return s.c.run("buildah", append(slices.Clone(s.args), args...)...)
}

func (s *containerStore) podman(args ...string) string {
	s.c.t.Helper()
	global := append(slices.Clone(s.args), "--tmpdir", filepath.Join(s.base, "tmp"), "--events-backend", "none", "--cgroup-manager", "cgroupfs")
	return s.c.run("podman", append(global, args...)...)
}

// Scenario 10: buildah builds an image from scratch and pushes it (as OCI
// and as Docker schema 2); podman pulls it into a fresh store and inspects
// it, pushes it under another tag, and buildah pulls that into a third
// store. The file put in the image is read back from the registry's layer.
func TestPodmanBuildahPushPull(t *testing.T) {
	testproc.Need(t, "buildah")
	testproc.Need(t, "podman")
	reg := startRegistry(t)
	c := newClients(t, reg)

	for _, format := range []struct{ name, manifestType string }{
		{"oci", mtOCIManifest},
		{"v2s2", mtDockerManifest},
	} {
		t.Run(format.name, func(t *testing.T) {
			c := c.forT(t)
			content := "hello from buildah " + format.name + " " + filepath.Base(c.dir) + "\n"
			writeFile(t, filepath.Join(c.dir, "hello.txt"), []byte(content))
			repo := "podman/test-" + format.name
			remote := c.ref(repo, "1")

			build := newContainerStore(c, format.name+"-build")
			ctr := "e2e-" + format.name
			build.buildah("from", "--name", ctr, "scratch")
			build.buildah("copy", ctr, filepath.Join(c.dir, "hello.txt"), "/hello.txt")
			build.buildah("config", "--cmd", "/hello", "--label", "org.berth.e2e="+format.name,
				"--os", "linux", "--arch", "amd64", ctr)
			build.buildah("commit", "--signature-policy", c.policyFile(), ctr, "localhost/"+repo+":1")
			build.buildah("push", "--signature-policy", c.policyFile(), "--tls-verify=false", "--format", format.name, "localhost/"+repo+":1", "docker://"+remote)

			m, res := reg.mustManifest(t, repo, "1")
			digest := sha256Digest(res.Body)
			if m.MediaType != format.manifestType && res.Header.Get("Content-Type") != format.manifestType {
				t.Errorf("buildah push --format %s stored %q (Content-Type %q)", format.name, m.MediaType, res.Header.Get("Content-Type"))
			}
			if len(m.Layers) != 1 {
				t.Fatalf("image has %d layers, want 1", len(m.Layers))
			}
			if got := fileInLayer(t, reg, repo, m.Layers[0].Digest, "hello.txt"); got != content {
				t.Errorf("hello.txt in the pushed layer: %q, want %q", got, content)
			}
			diffIDs := configDiffIDs(t, reg, repo, m.Config.Digest)

			// podman pulls into a fresh store and sees the same image.
			run := newContainerStore(c, format.name+"-podman")
			run.podman("pull", "--signature-policy", c.policyFile(), "--tls-verify=false", remote)
			var info []struct {
				Digest       string
				RepoDigests  []string
				Architecture string
				Os           string
				Labels       map[string]string
				RootFS       struct{ Layers []string }
			}
			out := run.podman("image", "inspect", remote)
			if err := json.Unmarshal([]byte(out), &info); err != nil || len(info) != 1 {
				t.Fatalf("podman image inspect: %v\n%s", err, out)
			}
			img := info[0]
			if img.Digest != digest || !slices.Contains(img.RepoDigests, reg.Host+"/"+repo+"@"+digest) {
				t.Errorf("podman image inspect: Digest %s RepoDigests %v, want %s", img.Digest, img.RepoDigests, digest)
			}
			if img.Labels["org.berth.e2e"] != format.name || img.Os != "linux" || img.Architecture != "amd64" {
				t.Errorf("podman image inspect: labels %v os %s arch %s", img.Labels, img.Os, img.Architecture)
			}
			if !slices.Equal(img.RootFS.Layers, diffIDs) {
				t.Errorf("podman image inspect: RootFS layers %v, want %v", img.RootFS.Layers, diffIDs)
			}

			// podman pushes it back under another tag (recompressing, so
			// compare uncompressed diff IDs), and buildah pulls that.
			remote2 := c.ref(repo, "2")
			run.podman("push", "--signature-policy", c.policyFile(), "--tls-verify=false", remote, "docker://"+remote2)
			m2, _ := reg.mustManifest(t, repo, "2")
			if got := configDiffIDs(t, reg, repo, m2.Config.Digest); !slices.Equal(got, diffIDs) {
				t.Errorf("podman push: diff IDs %v, want %v", got, diffIDs)
			}
			if got := fileInLayer(t, reg, repo, m2.Layers[0].Digest, "hello.txt"); got != content {
				t.Errorf("hello.txt in podman's pushed layer: %q, want %q", got, content)
			}
			third := newContainerStore(c, format.name+"-third")
			third.buildah("pull", "--signature-policy", c.policyFile(), "--tls-verify=false", remote2)
			var binfo []struct{ FromImageDigest string }
			out = third.buildah("inspect", "--type", "image", remote2)
			var single struct{ FromImageDigest string }
			if err := json.Unmarshal([]byte(out), &single); err != nil {
				if err := json.Unmarshal([]byte(out), &binfo); err != nil || len(binfo) != 1 {
					t.Fatalf("buildah inspect: %v\n%s", err, out)
				}
				single = binfo[0]
			}
			if want := sha256Digest(reg.getManifest(t, repo, "2").Body); single.FromImageDigest != want {
				t.Errorf("buildah inspect: FromImageDigest %s, want %s", single.FromImageDigest, want)
			}
		})
	}
}

// configDiffIDs reads an image config blob from the registry and returns
// its rootfs.diff_ids.
func configDiffIDs(t testing.TB, reg *registry, repo, digest string) []string {
	t.Helper()
	res := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+digest, nil, nil)
	if res.Status != http.StatusOK || sha256Digest(res.Body) != digest {
		t.Fatalf("GET config %s: status %d, hashes to %s", digest, res.Status, sha256Digest(res.Body))
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(res.Body, &cfg); err != nil {
		t.Fatalf("config %s: %v", digest, err)
	}
	return cfg.RootFS.DiffIDs
}

// fileInLayer fetches a gzip layer blob and returns the named file's
// content ("" if absent).
func fileInLayer(t testing.TB, reg *registry, repo, digest, name string) string {
	t.Helper()
	res := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+digest, nil, nil)
	if res.Status != http.StatusOK || sha256Digest(res.Body) != digest {
		t.Fatalf("GET layer %s: status %d, hashes to %s", digest, res.Status, sha256Digest(res.Body))
	}
	zr, err := gzip.NewReader(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatalf("layer %s: %v", digest, err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return ""
		}
		if err != nil {
			t.Fatalf("layer %s: %v", digest, err)
		}
		if filepath.Clean("/"+hdr.Name) == "/"+name {
			data, _ := io.ReadAll(tr)
			return string(data)
		}
	}
}
