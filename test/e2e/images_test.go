package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Media types.
const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtOCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	mtOCIEmpty       = "application/vnd.oci.empty.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerLayer    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// allManifestTypes is an Accept header value for any manifest.
var allManifestTypes = strings.Join([]string{mtOCIManifest, mtOCIIndex, mtDockerManifest, mtDockerList}, ", ")

type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

// manifest covers OCI image manifests and indexes and Docker schema 2
// manifests and manifest lists: the fields the tests look at.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *descriptor       `json:"config,omitempty"`
	Layers        []descriptor      `json:"layers,omitempty"`
	Manifests     []descriptor      `json:"manifests,omitempty"`
	Subject       *descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

func parseManifest(t testing.TB, data []byte) manifest {
	t.Helper()
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("parse manifest: %v\n%s", err, truncate(string(data), 2000))
	}
	return m
}

func (m manifest) layerDigests() []string {
	var out []string
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// sha256File hashes a file without reading it into memory.
func sha256File(t testing.TB, path string) (digest string, size int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), n
}

// newRand returns a fast PRNG with a random seed: every test run makes
// content no registry has seen.
func newRand() *rand.ChaCha8 {
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		panic(err)
	}
	return rand.NewChaCha8(seed)
}

// randomTar returns an uncompressed tar with a directory, a text file and
// a file of size random bytes.
func randomTar(t testing.TB, size int) []byte {
	t.Helper()
	rng := newRand()
	data := make([]byte, size)
	_, _ = rng.Read(data)
	id := hex.EncodeToString(data[:min(8, len(data))])
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mod := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	files := []struct {
		name string
		body []byte
	}{
		{"etc/berth-e2e/id-" + id + ".txt", []byte("berth e2e layer " + id + "\n")},
		{"data/random-" + id + ".bin", data},
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"etc/", "etc/berth-e2e/", "data/"} {
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mod}))
	}
	for _, f := range files {
		must(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mod}))
		_, err := tw.Write(f.body)
		must(err)
	}
	must(tw.Close())
	return buf.Bytes()
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layoutImage is an image written into an OCI image layout by writeImage.
type layoutImage struct {
	Manifest       manifest
	ManifestBytes  []byte
	ManifestDigest string
	ConfigDigest   string
	Layers         []descriptor
}

// writeImage adds a single-platform image with the given uncompressed
// layer tars (stored gzip-compressed) to the OCI image layout in dir
// (created if needed) under the tag.
func writeImage(t testing.TB, dir, tag string, plat platform, layerTars ...[]byte) layoutImage {
	t.Helper()
	var img layoutImage
	var diffIDs []string
	for _, lt := range layerTars {
		gz := gzipBytes(t, lt)
		diffIDs = append(diffIDs, sha256Digest(lt))
		img.Layers = append(img.Layers, writeBlob(t, dir, mtOCILayerGzip, gz))
	}
	config := map[string]any{
		"architecture": plat.Architecture,
		"os":           plat.OS,
		"created":      "2024-01-01T00:00:00Z",
		"config":       map[string]any{"Cmd": []string{"/bin/true"}, "Labels": map[string]string{"org.berth.e2e": tag}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	if plat.Variant != "" {
		config["variant"] = plat.Variant
	}
	cfgBytes, _ := json.Marshal(config)
	cfg := writeBlob(t, dir, mtOCIConfig, cfgBytes)
	img.ConfigDigest = cfg.Digest
	img.Manifest = manifest{SchemaVersion: 2, MediaType: mtOCIManifest, Config: &cfg, Layers: img.Layers}
	img.ManifestBytes, _ = json.Marshal(img.Manifest)
	md := writeBlob(t, dir, mtOCIManifest, img.ManifestBytes)
	img.ManifestDigest = md.Digest
	md.Platform = &plat
	md.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	addToLayoutIndex(t, dir, md)
	return img
}

// writeBlob stores a blob in an OCI layout and returns its descriptor.
func writeBlob(t testing.TB, dir, mediaType string, data []byte) descriptor {
	t.Helper()
	d := sha256Digest(data)
	writeFile(t, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")), data)
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func addToLayoutIndex(t testing.TB, dir string, d descriptor) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	idxPath := filepath.Join(dir, "index.json")
	idx := manifest{SchemaVersion: 2, MediaType: mtOCIIndex}
	if data, err := os.ReadFile(idxPath); err == nil {
		idx = parseManifest(t, data)
	}
	idx.Manifests = append(idx.Manifests, d)
	data, _ := json.Marshal(idx)
	writeFile(t, idxPath, data)
}

// layoutManifest returns the manifest an OCI layout's index.json names
// with the tag (or its only entry, when tag is "").
func layoutManifest(t testing.TB, dir, tag string) (manifest, descriptor) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	idx := parseManifest(t, data)
	var found []descriptor
	for _, d := range idx.Manifests {
		if tag == "" || d.Annotations["org.opencontainers.image.ref.name"] == tag {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		t.Fatalf("layout %s: %d manifests for tag %q in index.json:\n%s", dir, len(found), tag, data)
	}
	return parseManifest(t, readLayoutBlob(t, dir, found[0].Digest)), found[0]
}

func readLayoutBlob(t testing.TB, dir, digest string) []byte {
	t.Helper()
	alg, hex, _ := strings.Cut(digest, ":")
	data, err := os.ReadFile(filepath.Join(dir, "blobs", alg, hex))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// verifyLayoutBlobs checks that every blob of an OCI layout hashes to its
// name and returns the digests found.
func verifyLayoutBlobs(t testing.TB, dir string) []string {
	t.Helper()
	return verifyBlobFiles(t, filepath.Join(dir, "blobs", "sha256"), func(name string) (string, bool) {
		return "sha256:" + name, true
	})
}

// verifyBlobFiles hashes each file in dir whose name maps to a digest and
// fails on a mismatch; it returns the sorted digests.
func verifyBlobFiles(t testing.TB, dir string, digestOf func(name string) (string, bool)) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		want, ok := digestOf(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		got, _ := sha256File(t, filepath.Join(dir, e.Name()))
		if got != want {
			t.Errorf("%s: content hashes to %s", filepath.Join(dir, e.Name()), got)
		}
		out = append(out, want)
	}
	slices.Sort(out)
	return out
}

// writeRandomTarFile writes randomTar(size) to a file for tools that take
// a layer tarball (crane append -f).
func writeRandomTarFile(t testing.TB, dir string, size int) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "layer-*.tar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(randomTar(t, size)); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// writeRandomFile writes size bytes from a fast PRNG to path in 1 MiB
// chunks, hashing as it goes, and returns the digest.
func writeRandomFile(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// PCG is several times faster than ChaCha8 here, and random enough to
	// make the data incompressible and unique.
	var seed [16]byte
	if _, err := crand.Read(seed[:]); err != nil {
		t.Fatal(err)
	}
	rng := rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		for i := 0; i < len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		n := int64(len(buf))
		if left < n {
			n = left
		}
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func fmtList(s []string) string { return fmt.Sprintf("%q", s) }
