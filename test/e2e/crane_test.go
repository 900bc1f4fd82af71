package e2e

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// pushCraneImage pushes an image of random layers (each size bytes of
// random data, tarred) with `crane append --oci-empty-base` and returns its
// manifest digest.
func pushCraneImage(t testing.TB, c *clients, ref string, layerSizes ...int) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"append", "--oci-empty-base", "-t", ref}
	for _, size := range layerSizes {
		args = append(args, "-f", writeRandomTarFile(t, dir, size))
	}
	out := c.crane(args...)
	// crane append prints the pushed reference with its digest.
	_, digest, ok := strings.Cut(strings.TrimSpace(out), "@")
	if !ok || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("crane append printed %q, want ref@digest", out)
	}
	return digest
}

// Scenario 2: crane pushes an image, then reads it every way it can:
// digest, manifest, config, validate --remote, and pull in OCI layout and
// tarball formats, by tag and by digest, checking every blob's digest.
func TestCranePullAndVerify(t *testing.T) {
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const repo = "crane/app"
	ref := c.ref(repo, "v1")
	digest := pushCraneImage(t, c, ref, 300<<10, 40<<10)

	m, res := reg.mustManifest(t, repo, "v1")
	if got := sha256Digest(res.Body); got != digest {
		t.Fatalf("registry has %s under v1, crane append pushed %s", got, digest)
	}
	if m.MediaType != mtOCIManifest || len(m.Layers) != 2 {
		t.Fatalf("pushed manifest: mediaType %q with %d layers, want OCI with 2", m.MediaType, len(m.Layers))
	}
	// HEAD on the manifest agrees with GET.
	head := reg.do(t, http.MethodHead, "/v2/"+repo+"/manifests/v1", http.Header{"Accept": {allManifestTypes}}, nil)
	if head.Status != http.StatusOK || head.Header.Get("Docker-Content-Digest") != digest {
		t.Errorf("HEAD manifest: want 200 with Docker-Content-Digest %s, got\n%s", digest, head)
	}

	if got := strings.TrimSpace(c.crane("digest", ref)); got != digest {
		t.Errorf("crane digest %s, want %s", got, digest)
	}
	if got := c.crane("manifest", ref); sha256Digest([]byte(got)) != digest {
		t.Errorf("crane manifest hashes to %s, want %s", sha256Digest([]byte(got)), digest)
	}
	if got := c.crane("config", ref); sha256Digest([]byte(got)) != m.Config.Digest {
		t.Errorf("crane config hashes to %s, want %s", sha256Digest([]byte(got)), m.Config.Digest)
	}
	c.crane("validate", "--remote", ref)
	c.crane("validate", "--remote", c.ref(repo, digest))

	for _, by := range []struct{ name, ref string }{{"tag", ref}, {"digest", c.ref(repo, digest)}} {
		t.Run("oci-by-"+by.name, func(t *testing.T) {
			c := c.forT(t)
			dir := filepath.Join(t.TempDir(), "oci")
			c.crane("pull", "--format", "oci", by.ref, dir)
			pm, desc := layoutManifest(t, dir, "")
			if desc.Digest != digest {
				t.Errorf("pulled manifest %s, want %s", desc.Digest, digest)
			}
			if !slices.Equal(pm.layerDigests(), m.layerDigests()) {
				t.Errorf("pulled layers %v, want %v", pm.layerDigests(), m.layerDigests())
			}
			blobs := verifyLayoutBlobs(t, dir)
			for _, d := range append(m.layerDigests(), m.Config.Digest, digest) {
				if !slices.Contains(blobs, d) {
					t.Errorf("pulled layout lacks blob %s", d)
				}
			}
		})
		t.Run("tarball-by-"+by.name, func(t *testing.T) {
			c := c.forT(t)
			file := filepath.Join(t.TempDir(), "image.tar")
			c.crane("pull", "--format", "tarball", by.ref, file)
			verifyImageTarball(t, file, m)
		})
	}
}

// verifyImageTarball checks a `docker save`-style tarball (crane pull
// --format tarball): its config and layer files hash to the manifest's
// digests.
func verifyImageTarball(t testing.TB, file string, m manifest) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hashes := map[string]string{} // entry name -> digest
	var saved []struct {
		Config string
		Layers []string
	}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read %s: %v", file, err)
		}
		if hdr.Name == "manifest.json" {
			if err := json.NewDecoder(tr).Decode(&saved); err != nil {
				t.Fatalf("manifest.json in %s: %v", file, err)
			}
			continue
		}
		h := sha256.New()
		if _, err := io.Copy(h, tr); err != nil {
			t.Fatal(err)
		}
		hashes[hdr.Name] = "sha256:" + hex.EncodeToString(h.Sum(nil))
	}
	if len(saved) != 1 {
		t.Fatalf("tarball manifest.json has %d entries, want 1", len(saved))
	}
	if got := hashes[saved[0].Config]; got != m.Config.Digest {
		t.Errorf("tarball config %s hashes to %s, want %s", saved[0].Config, got, m.Config.Digest)
	}
	if len(saved[0].Layers) != len(m.Layers) {
		t.Fatalf("tarball has %d layers, want %d", len(saved[0].Layers), len(m.Layers))
	}
	for i, name := range saved[0].Layers {
		if got := hashes[name]; got != m.Layers[i].Digest {
			t.Errorf("tarball layer %s hashes to %s, want %s", name, got, m.Layers[i].Digest)
		}
	}
}
