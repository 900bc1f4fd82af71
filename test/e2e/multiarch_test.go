package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 3: two single-platform images (linux/amd64, linux/arm64) are
// pushed with regctl from an OCI layout and combined into an OCI index with
// `regctl index create`; `skopeo copy --all` copies the index to another
// repository, where the index and both children must be present with the
// same digests, and where each client resolves the platforms alike.
func TestMultiArchIndexCopy(t *testing.T) {
	testproc.Need(t, "regctl")
	testproc.Need(t, "skopeo")
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const src, dst = "multi/src", "multi/dst"

	layout := filepath.Join(t.TempDir(), "layout")
	platforms := []platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64", Variant: "v8"}}
	images := map[string]layoutImage{} // platform string -> image
	var refs []string
	for _, p := range platforms {
		tag := p.Architecture
		img := writeImage(t, layout, tag, p, randomTar(t, 128<<10))
		images[platformString(p)] = img
		c.regctl("image", "copy", "ocidir://"+layout+":"+tag, c.ref(src, tag))
		if got, _ := reg.mustManifest(t, src, tag); got.Config.Digest != img.ConfigDigest {
			t.Fatalf("%s: pushed config %s, want %s", tag, got.Config.Digest, img.ConfigDigest)
		}
		refs = append(refs, "--ref", c.ref(src, tag))
	}

	c.regctl(append([]string{"index", "create", c.ref(src, "v1")}, refs...)...)
	idx, res := reg.mustManifest(t, src, "v1")
	if ct := res.Header.Get("Content-Type"); ct != mtOCIIndex || idx.MediaType != mtOCIIndex {
		t.Fatalf("index: Content-Type %q mediaType %q, want %s", ct, idx.MediaType, mtOCIIndex)
	}
	indexDigest := sha256Digest(res.Body)
	children := checkIndexChildren(t, idx, images)

	c.skopeo("copy", "--all", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
		"docker://"+c.ref(src, "v1"), "docker://"+c.ref(dst, "v1"))

	didx, dres := reg.mustManifest(t, dst, "v1")
	if got := sha256Digest(dres.Body); got != indexDigest {
		t.Errorf("copied index digest %s, want %s", got, indexDigest)
	}
	checkIndexChildren(t, didx, images)
	for plat, childDigest := range children {
		cm, _ := reg.mustManifest(t, dst, childDigest)
		img := images[plat]
		if cm.Config.Digest != img.ConfigDigest || !slices.Equal(cm.layerDigests(), img.Manifest.layerDigests()) {
			t.Errorf("%s: copied child config %s layers %v, want %s %v", plat, cm.Config.Digest,
				cm.layerDigests(), img.ConfigDigest, img.Manifest.layerDigests())
		}
		for _, d := range append(cm.layerDigests(), cm.Config.Digest) {
			if h := reg.headBlob(t, dst, d); h.Status != http.StatusOK {
				t.Errorf("%s: HEAD %s in %s: %d", plat, d, dst, h.Status)
			}
		}
	}

	// Every client picks the same child per platform in the copy.
	for plat, childDigest := range children {
		if got := strings.TrimSpace(c.crane("digest", "--platform", plat, c.ref(dst, "v1"))); got != childDigest {
			t.Errorf("crane digest --platform %s: %s, want %s", plat, got, childDigest)
		}
		if got := strings.TrimSpace(c.regctl("image", "digest", "--platform", plat, c.ref(dst, "v1"))); got != childDigest {
			t.Errorf("regctl image digest --platform %s: %s, want %s", plat, got, childDigest)
		}
	}
	if got := strings.TrimSpace(c.crane("digest", c.ref(dst, "v1"))); got != indexDigest {
		t.Errorf("crane digest of the index: %s, want %s", got, indexDigest)
	}
	out := c.skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+c.ref(dst, "v1"))
	if got := sha256Digest([]byte(out)); got != indexDigest {
		t.Errorf("skopeo inspect --raw hashes to %s, want %s", got, indexDigest)
	}
}

// checkIndexChildren checks the index lists exactly one manifest per
// platform of images, each that image's manifest, and returns platform ->
// child digest.
func checkIndexChildren(t testing.TB, idx manifest, images map[string]layoutImage) map[string]string {
	t.Helper()
	children := map[string]string{}
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			t.Errorf("index entry %s has no platform", d.Digest)
			continue
		}
		p := platformString(*d.Platform)
		img, ok := images[p]
		if !ok {
			t.Errorf("index entry %s for unexpected platform %s", d.Digest, p)
			continue
		}
		if d.Digest != img.ManifestDigest || d.MediaType != mtOCIManifest || d.Size != int64(len(img.ManifestBytes)) {
			t.Errorf("index entry for %s: %s %s %d, want %s %s %d", p, d.Digest, d.MediaType, d.Size,
				img.ManifestDigest, mtOCIManifest, len(img.ManifestBytes))
		}
		children[p] = d.Digest
	}
	if len(children) != len(images) || len(idx.Manifests) != len(images) {
		t.Errorf("index has %d entries (%v), want one per platform of %d", len(idx.Manifests), children, len(images))
	}
	return children
}

func platformString(p platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
