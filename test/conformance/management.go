package conformance

import (
	"net/http"
	"slices"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testManagement covers "Content Management": deleting tags (end-9 with a
// tag), manifests (end-9 with a digest) and blobs (end-10).
func testManagement(t *testing.T, s *suite) {
	t.Run("delete-tag", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushImage(t, repo, "keep", im)
		s.pushImage(t, repo, "drop", im)
		r := s.do(t, "DELETE", "/v2/"+repo+"/manifests/drop", nil, nil)
		wantStatus(t, r, http.StatusAccepted)

		r = s.getManifest(t, "GET", repo, "drop")
		wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r = s.getManifest(t, "HEAD", repo, "drop")
		wantStatus(t, r, http.StatusNotFound)
		// Only the tag went: the manifest and its other tag remain.
		for _, ref := range []string{"keep", im.digest.String()} {
			r = s.getManifest(t, "GET", repo, ref)
			wantStatus(t, r, http.StatusOK)
			checkManifestResponse(t, r, im.content, true)
		}
		s.wantTags(t, repo, "keep", "seed")
	})

	t.Run("delete-manifest-removes-its-tags", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushImage(t, repo, "a", im)
		s.pushImage(t, repo, "b", im)
		r := s.do(t, "DELETE", "/v2/"+repo+"/manifests/"+im.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		for _, ref := range []string{im.digest.String(), "a", "b"} {
			r = s.getManifest(t, "GET", repo, ref)
			wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
			r = s.getManifest(t, "HEAD", repo, ref)
			wantStatus(t, r, http.StatusNotFound)
		}
		s.wantTags(t, repo, "seed")
	})

	t.Run("delete-manifest-then-push-again", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage()
		s.pushImage(t, repo, "again", im)
		r := s.do(t, "DELETE", "/v2/"+repo+"/manifests/"+im.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		s.pushImage(t, repo, "again", im)
		r = s.getManifest(t, "GET", repo, "again")
		wantStatus(t, r, http.StatusOK)
		checkManifestResponse(t, r, im.content, true)
	})

	t.Run("delete-blob", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(1000), digest.SHA256)
		s.pushBlob(t, repo, b)
		r := s.do(t, "DELETE", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		s.wantBlobAbsent(t, repo, b.digest, "BLOB_UNKNOWN")
		r = s.do(t, "DELETE", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantError(t, r, http.StatusNotFound, "BLOB_UNKNOWN")
		// It can be pushed again.
		s.pushBlob(t, repo, b)
		r = s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, b.body)
	})

	t.Run("delete-blob-is-per-repository", func(t *testing.T) {
		t.Parallel()
		a, b := s.repo(t, "a"), s.repo(t, "b")
		blob := newContent(mtOCILayer, randomBytes(1000), digest.SHA256)
		s.pushBlob(t, a, blob)
		s.pushBlob(t, b, blob)
		r := s.do(t, "DELETE", "/v2/"+a+"/blobs/"+blob.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		s.wantBlobAbsent(t, a, blob.digest, "BLOB_UNKNOWN")
		r = s.do(t, "GET", "/v2/"+b+"/blobs/"+blob.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, blob.body)
	})

	t.Run("delete-unknown", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		d := digest.FromBytes(randomBytes(16))
		r := s.do(t, "DELETE", "/v2/"+repo+"/manifests/"+d.String(), nil, nil)
		wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r = s.do(t, "DELETE", "/v2/"+repo+"/manifests/no-such-tag", nil, nil)
		wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r = s.do(t, "DELETE", "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
		wantError(t, r, http.StatusNotFound, "BLOB_UNKNOWN")
		// "If the repository does not exist, the response MUST return 404."
		r = s.do(t, "DELETE", "/v2/"+s.repo(t, "never-created")+"/manifests/"+d.String(), nil, nil)
		wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
	})
}

// wantTags checks tags/list of repo holds exactly these tags.
func (s *suite) wantTags(t *testing.T, repo string, tags ...string) {
	t.Helper()
	r := s.do(t, "GET", "/v2/"+repo+"/tags/list", nil, nil)
	wantStatus(t, r, http.StatusOK)
	got := decodeTags(t, r)
	want := slices.Sorted(slices.Values(tags))
	if !slices.Equal(got, want) {
		t.Errorf("want tags %q, got %q\n%s", want, got, r)
	}
}
