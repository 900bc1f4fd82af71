package metatest

import (
	"errors"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// adoptTests are the cases of the AdoptStore.
var adoptTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"Adopt", testAdopt},
}

// testAdopt: a batch records blobs, manifests (an index after its
// children) and tags at once; a batch missing a reference records nothing;
// a batch again changes nothing but moved tags.
func testAdopt(t *testing.T, s meta.Store) {
	const repo = "adopted/app"
	cfg, layer := dg("cfg"), dg("layer")
	img := manifest(repo, "image", cfg, layer)
	idx := &meta.Manifest{Repository: repo, Digest: dg("index"), MediaType: "application/vnd.oci.image.index.v1+json",
		Content: []byte("index"), Children: []digest.Digest{img.Digest}}
	ref := manifest(repo, "referrer", cfg)
	ref.Subject, ref.ArtifactType = img.Digest, "application/x-sig"
	batch := meta.AdoptBatch{
		Blobs:     []meta.Blob{{Digest: cfg, Size: 3}, {Digest: layer, Size: 5}},
		Manifests: []*meta.Manifest{img, ref, idx},
		Tags:      map[string]digest.Digest{"v1": img.Digest, "multi": idx.Digest},
	}
	if err := s.Adopt(ctx, repo, batch); err != nil {
		t.Fatal(err)
	}
	for tag, want := range batch.Tags {
		if got, err := s.ResolveTag(ctx, repo, tag); err != nil || got != want {
			t.Errorf("tag %s = %s, %v; want %s", tag, got, err, want)
		}
	}
	if _, err := s.Blob(ctx, repo, layer); err != nil {
		t.Errorf("adopted blob: %v", err)
	}
	if refs, err := s.Referrers(ctx, repo, img.Digest, ""); err != nil || len(refs) != 1 || refs[0].Digest != ref.Digest {
		t.Errorf("referrers = %+v, %v", refs, err)
	}
	want := []digest.Digest{img.Digest, ref.Digest, idx.Digest}
	slices.Sort(want)
	if got, err := s.ManifestDigests(ctx, repo); err != nil || !slices.Equal(got, want) {
		t.Errorf("ManifestDigests = %v, %v; want %v", got, err, want)
	}
	if got, err := s.ManifestDigests(ctx, "no/such"); err != nil || len(got) != 0 {
		t.Errorf("ManifestDigests of an unknown repository = %v, %v", got, err)
	}

	// Again, with v1 moved to the index: kept rows, moved tag.
	batch.Tags = map[string]digest.Digest{"v1": idx.Digest}
	if err := s.Adopt(ctx, repo, batch); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ResolveTag(ctx, repo, "v1"); got != idx.Digest {
		t.Errorf("v1 = %s after the second batch, want %s", got, idx.Digest)
	}

	// A manifest naming a blob the batch does not link: nothing recorded.
	bad := manifest("adopted/other", "bad", dg("missing"))
	err := s.Adopt(ctx, "adopted/other", meta.AdoptBatch{
		Blobs: []meta.Blob{{Digest: dg("fine"), Size: 4}}, Manifests: []*meta.Manifest{bad},
	})
	var missing *meta.MissingError
	if !errors.As(err, &missing) || missing.Digest != dg("missing") {
		t.Fatalf("batch with a missing blob: %v", err)
	}
	if _, err := s.Blob(ctx, "adopted/other", dg("fine")); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a failed batch linked a blob: %v", err)
	}
	// A tag to a manifest the repository does not have.
	err = s.Adopt(ctx, repo, meta.AdoptBatch{Tags: map[string]digest.Digest{"x": dg("nothing")}})
	if !errors.As(err, &missing) {
		t.Errorf("tag to an unknown manifest: %v", err)
	}
}
