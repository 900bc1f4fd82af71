package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 1: skopeo copies an OCI image (oci: layout -> docker://), and
// the same image converted to Docker schema 2 (--format v2s2), then copies
// both back (docker:// -> oci: and dir:), checking the layer digests. The
// source layouts are made in Go and with umoci.
func TestSkopeoCopyRoundTrip(t *testing.T) {
	testproc.Need(t, "skopeo")
	reg := startRegistry(t)
	c := newClients(t, reg)

	sources := []struct {
		name  string
		build func(t *testing.T, c *clients, layout string)
	}{
		{"go", func(t *testing.T, c *clients, layout string) {
			writeImage(t, layout, "v1", platform{OS: "linux", Architecture: "amd64"},
				randomTar(t, 256<<10), randomTar(t, 64<<10))
		}},
		{"umoci", buildUmociImage},
	}
	for _, source := range sources {
		t.Run(source.name, func(t *testing.T) {
			c := c.forT(t)
			src := filepath.Join(c.dir, source.name+"-layout")
			source.build(t, c, src)
			srcManifest, srcDesc := layoutManifest(t, src, "v1")
			testSkopeoRoundTrip(t, c, src, "skopeo/"+source.name, srcDesc.Digest, srcManifest.layerDigests())
		})
	}
}

// buildUmociImage makes a two-layer image with umoci: init, new, insert a
// random file, insert a text file, config.
func buildUmociImage(t *testing.T, c *clients, layout string) {
	testproc.Need(t, "umoci")
	files := t.TempDir()
	writeRandomFile(t, filepath.Join(files, "random.bin"), 200<<10)
	writeFile(t, filepath.Join(files, "hello.txt"), []byte("hello from umoci "+filepath.Base(files)+"\n"))
	img := layout + ":v1"
	c.run("umoci", "init", "--layout", layout)
	c.run("umoci", "new", "--image", img)
	c.run("umoci", "insert", "--image", img, filepath.Join(files, "random.bin"), "/data/random.bin")
	c.run("umoci", "insert", "--image", img, filepath.Join(files, "hello.txt"), "/hello.txt")
	c.run("umoci", "config", "--image", img, "--os", "linux", "--architecture", "amd64",
		"--config.cmd", "/hello", "--config.label", "org.berth.e2e=umoci")
	// umoci keeps superseded manifests and configs as blobs: drop them, so
	// the layout holds only what v1 references.
	c.run("umoci", "gc", "--layout", layout)
}

// testSkopeoRoundTrip copies the layout's v1 to repo as OCI and as v2s2
// and back, checking digests at every step.
func testSkopeoRoundTrip(t *testing.T, c *clients, src, repoBase, srcDigest string, wantLayers []string) {
	reg := c.reg
	cases := []struct {
		name         string
		format       []string
		manifestType string
		layerType    string
		configType   string
		sameManifest bool // pushed manifest is byte-identical to the layout's
	}{
		{name: "oci", manifestType: mtOCIManifest, layerType: mtOCILayerGzip,
			configType: mtOCIConfig, sameManifest: true},
		{name: "v2s2", format: []string{"--format", "v2s2"}, manifestType: mtDockerManifest,
			layerType: mtDockerLayer, configType: mtDockerConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := c.forT(t)
			repo := repoBase + "-" + tc.name
			dst := "docker://" + c.ref(repo, "v1")
			args := append([]string{"copy", "--dest-tls-verify=false"}, tc.format...)
			c.skopeo(append(args, "oci:"+src+":v1", dst)...)

			// What the registry holds.
			m, res := reg.mustManifest(t, repo, "v1")
			if ct := res.Header.Get("Content-Type"); ct != tc.manifestType {
				t.Errorf("manifest Content-Type %q, want %q", ct, tc.manifestType)
			}
			// mediaType is optional in an OCI manifest (umoci leaves it out).
			if (m.MediaType != tc.manifestType && (m.MediaType != "" || tc.manifestType != mtOCIManifest)) ||
				m.Config == nil || m.Config.MediaType != tc.configType {
				t.Errorf("manifest mediaType %q config %+v, want %s / %s", m.MediaType, m.Config, tc.manifestType, tc.configType)
			}
			if got := m.layerDigests(); !slices.Equal(got, wantLayers) {
				t.Errorf("registry layers %v, want %v", got, wantLayers)
			}
			for _, l := range m.Layers {
				if l.MediaType != tc.layerType {
					t.Errorf("layer %s media type %q, want %q", l.Digest, l.MediaType, tc.layerType)
				}
				if h := reg.headBlob(t, repo, l.Digest); h.Status != http.StatusOK {
					t.Errorf("HEAD blob %s: %d", l.Digest, h.Status)
				}
			}
			digest := sha256Digest(res.Body)
			if tc.sameManifest && digest != srcDigest {
				t.Errorf("pushed manifest digest %s, layout had %s", digest, srcDigest)
			}

			// skopeo inspect agrees.
			var info struct {
				Digest string
				Layers []string
			}
			out := c.skopeo("inspect", "--tls-verify=false", dst)
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatalf("skopeo inspect: %v\n%s", err, out)
			}
			if info.Digest != digest || !slices.Equal(info.Layers, wantLayers) {
				t.Errorf("skopeo inspect: digest %s layers %v; want %s %v", info.Digest, info.Layers, digest, wantLayers)
			}

			// Back to an OCI layout: same layers, every blob intact.
			back := filepath.Join(t.TempDir(), "back")
			c.skopeo("copy", "--src-tls-verify=false", dst, "oci:"+back+":v1")
			bm, _ := layoutManifest(t, back, "v1")
			if got := bm.layerDigests(); !slices.Equal(got, wantLayers) {
				t.Errorf("oci: copy back has layers %v, want %v", got, wantLayers)
			}
			blobs := verifyLayoutBlobs(t, back)
			for _, l := range wantLayers {
				if !slices.Contains(blobs, l) {
					t.Errorf("oci: copy back lacks layer blob %s (has %v)", l, blobs)
				}
			}

			// Back to a dir: with the manifest unchanged (digests kept).
			dir := filepath.Join(t.TempDir(), "dir")
			c.skopeo("copy", "--src-tls-verify=false", "--preserve-digests", dst, "dir:"+dir)
			raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256Digest(raw); got != digest {
				t.Errorf("dir: manifest.json hashes to %s, registry digest %s", got, digest)
			}
			dm := parseManifest(t, raw)
			if got := dm.layerDigests(); !slices.Equal(got, wantLayers) {
				t.Errorf("dir: copy has layers %v, want %v", got, wantLayers)
			}
			files := verifyBlobFiles(t, dir, func(name string) (string, bool) {
				if len(name) == 64 && !strings.Contains(name, ".") {
					return "sha256:" + name, true
				}
				return "", false
			})
			for _, l := range append(wantLayers, m.Config.Digest) {
				if !slices.Contains(files, l) {
					t.Errorf("dir: copy lacks blob %s (has %v)", l, files)
				}
			}
		})
	}
}
