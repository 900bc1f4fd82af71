package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/testproc"
)

// A Berth binary configured for Google Cloud Storage (a real
// fake-gcs-server) through BERTH_* variables: crane pushes an image with a
// layer of several chunks and pulls it back by digest; the blobs are in
// the bucket, and a blob GET redirects to a V4 signed URL on the emulator
// that serves the same bytes.
func TestGCSStorage(t *testing.T) {
	if target != "berth" {
		t.Skip("the gcs driver is Berth's")
	}
	testproc.Need(t, "crane")
	g := gcstest.Start(t)
	g.CredentialsFile = gcstest.KeyFile(t)
	reg := startRegistryEnv(t, []string{
		"BERTH_STORAGE_DRIVER=gcs",
		"BERTH_STORAGE_GCS_BUCKET=" + g.Bucket,
		"BERTH_STORAGE_GCS_ENDPOINT=" + g.Endpoint,
		"BERTH_STORAGE_GCS_ANONYMOUS=true",
		"BERTH_STORAGE_GCS_CREDENTIALS_FILE=" + g.CredentialsFile,
		"BERTH_STORAGE_GCS_PREFIX=berth",
		"BERTH_STORAGE_GCS_CHUNK_SIZE=256KiB",
	})
	c := newClients(t, reg)
	const repo = "gcs/app"
	digest := pushCraneImage(t, c, c.ref(repo, "v1"), 3<<20+12345, 40<<10)
	m, _ := reg.mustManifest(t, repo, "v1")

	dir := filepath.Join(t.TempDir(), "oci")
	c.crane("pull", "--format", "oci", c.ref(repo, digest), dir)
	blobs := verifyLayoutBlobs(t, dir)
	for _, d := range append(m.layerDigests(), m.Config.Digest, digest) {
		if !slices.Contains(blobs, d) {
			t.Errorf("pulled layout lacks blob %s", d)
		}
	}

	// The layers are objects in the bucket, below the prefix.
	ctx := context.Background()
	g.Prefix = "berth"
	d, err := gcs.New(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var stored []string
	if err := d.Walk(ctx, "blobs", func(fi storage.FileInfo) error {
		stored = append(stored, "sha256:"+filepath.Base(fi.Path))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.layerDigests() {
		if !slices.Contains(stored, l) {
			t.Errorf("layer %s not in the bucket (%v)", l, stored)
		}
	}

	layer := m.layerDigests()[0]
	res := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+layer, nil, nil)
	loc := res.Header.Get("Location")
	if res.Status != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, g.Endpoint+"/"+g.Bucket+"/berth/") || !strings.Contains(loc, "X-Goog-Signature=") {
		t.Fatalf("blob GET: want a redirect to a signed URL on %s, got\n%s", g.Endpoint, res)
	}
	got := reg.do(t, http.MethodGet, loc, nil, nil)
	if got.Status != http.StatusOK || sha256Digest(got.Body) != layer {
		t.Fatalf("GET signed URL: %d, %d bytes hashing to %s, want %s", got.Status, len(got.Body), sha256Digest(got.Body), layer)
	}
}
