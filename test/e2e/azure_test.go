package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/testproc"
)

// A Berth binary configured for Azure Blob Storage (a real Azurite) through
// BERTH_* variables: crane pushes an image with a layer of several blocks
// and pulls it back by digest; the blobs are in the container, and a blob
// GET redirects to a SAS URL on the emulator that serves the same bytes.
func TestAzureStorage(t *testing.T) {
	if target != "berth" {
		t.Skip("the azure driver is Berth's")
	}
	testproc.Need(t, "crane")
	az := aztest.Start(t)
	reg := startRegistryEnv(t, []string{
		"BERTH_STORAGE_DRIVER=azure",
		"BERTH_STORAGE_AZURE_ACCOUNT_NAME=" + az.AccountName,
		"BERTH_STORAGE_AZURE_ACCOUNT_KEY=" + az.AccountKey,
		"BERTH_STORAGE_AZURE_ENDPOINT=" + az.Endpoint,
		"BERTH_STORAGE_AZURE_CONTAINER=" + az.Container,
		"BERTH_STORAGE_AZURE_PREFIX=berth",
		"BERTH_STORAGE_AZURE_BLOCK_SIZE=1MiB",
	})
	c := newClients(t, reg)
	const repo = "azure/app"
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

	// The layers are blobs in the container, below the prefix.
	ctx := context.Background()
	az.Prefix = "berth"
	d, err := azure.New(ctx, az)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	if err := d.Walk(ctx, "blobs", func(fi storage.FileInfo) error {
		stored = append(stored, "sha256:"+filepath.Base(fi.Path))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range m.layerDigests() {
		if !slices.Contains(stored, l) {
			t.Errorf("layer %s not in the container (%v)", l, stored)
		}
	}

	layer := m.layerDigests()[0]
	res := reg.do(t, http.MethodGet, "/v2/"+repo+"/blobs/"+layer, nil, nil)
	loc := res.Header.Get("Location")
	if res.Status != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, az.Endpoint+"/") || !strings.Contains(loc, "sig=") {
		t.Fatalf("blob GET: want a redirect to a SAS URL on %s, got\n%s", az.Endpoint, res)
	}
	got := reg.do(t, http.MethodGet, loc, nil, nil)
	if got.Status != http.StatusOK || sha256Digest(got.Body) != layer {
		t.Fatalf("GET SAS URL: %d, %d bytes hashing to %s, want %s", got.Status, len(got.Body), sha256Digest(got.Body), layer)
	}
}
