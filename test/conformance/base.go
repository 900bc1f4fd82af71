package conformance

import (
	"net/http"
	"testing"
)

// testBase covers the version check and repository scoping of content.
func testBase(t *testing.T, s *suite) {
	t.Run("api-version-check", func(t *testing.T) {
		t.Parallel()
		// spec: "Determining Support" (end-1); Docker Registry HTTP API V2
		// "API Version Check".
		r := s.do(t, "GET", "/v2/", nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantHeader(t, r, "Docker-Distribution-API-Version", "registry/2.0")
	})

	t.Run("blob-scoped-to-repository", func(t *testing.T) {
		t.Parallel()
		// A blob pushed to repository A is not readable through repository
		// B until it is mounted or pushed there.
		a, b, c := s.repo(t, "a"), s.repo(t, "b"), s.repo(t, "c")
		s.seedRepo(t, b)
		s.seedRepo(t, c)
		blob := newContent(mtOCILayer, randomBytes(2048), "sha256")
		s.pushBlob(t, a, blob)

		s.wantBlobAbsent(t, b, blob.digest, "BLOB_UNKNOWN")

		// Mount makes it readable in B.
		r := s.do(t, "POST", "/v2/"+b+"/blobs/uploads/?mount="+blob.digest.String()+"&from="+a, nil, nil)
		wantStatus(t, r, http.StatusCreated)
		r = s.do(t, "GET", "/v2/"+b+"/blobs/"+blob.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, blob.body)

		// Pushing it makes it readable in C.
		s.wantBlobAbsent(t, c, blob.digest, "BLOB_UNKNOWN")
		s.pushBlob(t, c, blob)
		r = s.do(t, "GET", "/v2/"+c+"/blobs/"+blob.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, blob.body)
	})

	t.Run("manifest-scoped-to-repository", func(t *testing.T) {
		t.Parallel()
		a, b := s.repo(t, "a"), s.repo(t, "b")
		s.seedRepo(t, b)
		im := newImage()
		s.pushImage(t, a, "v1", im)
		r := s.getManifest(t, "GET", b, im.digest.String())
		wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
		r = s.getManifest(t, "GET", b, "v1")
		wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})
}
