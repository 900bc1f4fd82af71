package conformance

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testPushBlobs covers "Pushing blobs" apart from chunked uploads: the
// single POST, POST then PUT, a streamed PATCH, cancelling an upload and
// cross-repository mounts.
func testPushBlobs(t *testing.T, s *suite) {
	t.Run("monolithic-single-post", func(t *testing.T) {
		t.Parallel()
		// spec: "Single POST" (end-4b). Registries MAY fall back to 202;
		// Berth is expected to implement it, so 201 is required here.
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(3000), digest.SHA256)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+b.digest.String(),
			hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("monolithic-post-then-put", func(t *testing.T) {
		t.Parallel()
		// spec: "POST then PUT" (end-4a, end-6).
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(3000), digest.SHA256)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		u := withQuery(s.location(t, r), "digest", b.digest.String())
		r = s.doURL(t, "PUT", u, hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("upload-sessions-are-distinct", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		r1 := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r1, http.StatusAccepted)
		r2 := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r2, http.StatusAccepted)
		if s.location(t, r1).String() == s.location(t, r2).String() {
			t.Errorf("two POSTs returned the same upload location %q", r1.Header.Get("Location"))
		}
	})

	t.Run("push-existing-blob-again", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(500), digest.SHA256)
		s.pushBlob(t, repo, b)
		s.pushBlob(t, repo, b)
		r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, b.body)
	})

	t.Run("empty-blob", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, []byte{}, digest.SHA256)
		s.pushBlob(t, repo, b)
		r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantHeader(t, r, "Content-Length", "0")
	})

	t.Run("streamed-patch-without-content-range", func(t *testing.T) {
		t.Parallel()
		// The Docker client streams a layer with one PATCH, chunked
		// transfer encoding, no Content-Range and no Content-Length.
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(70000), digest.SHA256)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		r = s.doStream(t, "PATCH", s.location(t, r), hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusAccepted)
		wantHeader(t, r, "Range", fmt.Sprintf("0-%d", len(b.body)-1))
		u := withQuery(s.location(t, r), "digest", b.digest.String())
		r = s.doURL(t, "PUT", u, nil, nil)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("patch-with-length-without-content-range", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(5000), digest.SHA256)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		r = s.doURL(t, "PATCH", s.location(t, r), hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusAccepted)
		wantHeader(t, r, "Range", fmt.Sprintf("0-%d", len(b.body)-1))
		u := withQuery(s.location(t, r), "digest", b.digest.String())
		r = s.doURL(t, "PUT", u, nil, nil)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("cancel-upload", func(t *testing.T) {
		t.Parallel()
		// spec: "Cancel a blob upload" (end-14).
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(1000), digest.SHA256)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		r = s.doURL(t, "PATCH", s.location(t, r), hdr("Content-Type", mtOctetStream,
			"Content-Range", fmt.Sprintf("0-%d", len(b.body)-1)), b.body)
		wantStatus(t, r, http.StatusAccepted)
		loc := s.location(t, r)
		r = s.doURL(t, "DELETE", loc, nil, nil)
		wantStatus(t, r, http.StatusNoContent)
		r = s.doURL(t, "GET", loc, nil, nil)
		wantError(t, r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		r = s.doURL(t, "PUT", withQuery(loc, "digest", b.digest.String()), nil, nil)
		wantError(t, r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
		s.wantBlobAbsent(t, repo, b.digest, "BLOB_UNKNOWN")
	})

	t.Run("mount-from-other-repository", func(t *testing.T) {
		t.Parallel()
		// spec: "Mounting a blob from another repository" (end-11).
		from, to := s.repo(t, "from"), s.repo(t, "to")
		b := newContent(mtOCILayer, randomBytes(2000), digest.SHA256)
		s.pushBlob(t, from, b)
		r := s.do(t, "POST", "/v2/"+to+"/blobs/uploads/?mount="+b.digest.String()+"&from="+from, nil, nil)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
		r = s.do(t, "GET", "/v2/"+to+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, b.body)
	})

	t.Run("mount-fallback-to-upload", func(t *testing.T) {
		t.Parallel()
		// A mount that cannot be done SHOULD start an upload session (202)
		// that the client then completes.
		from, to := s.repo(t, "from"), s.repo(t, "to")
		s.seedRepo(t, from)
		b := newContent(mtOCILayer, randomBytes(2000), digest.SHA256)
		for _, src := range []string{from, s.repo(t, "never-created")} {
			r := s.do(t, "POST", "/v2/"+to+"/blobs/uploads/?mount="+b.digest.String()+"&from="+src, nil, nil)
			wantStatus(t, r, http.StatusAccepted)
			loc := s.location(t, r)
			if src != from {
				r = s.doURL(t, "PUT", withQuery(loc, "digest", b.digest.String()),
					hdr("Content-Type", mtOctetStream), b.body)
				wantStatus(t, r, http.StatusCreated)
				s.checkBlobCreated(t, r, b)
			}
		}
	})
}

// checkBlobCreated checks the response to a completed blob upload or mount:
// the Location must be a pullable blob URL, and Docker-Content-Digest, when
// present, must name the blob.
func (s *suite) checkBlobCreated(t *testing.T, r *response, b content) {
	t.Helper()
	if r.Header.Get("Docker-Content-Digest") != "" {
		wantDigestHeader(t, r, b)
	}
	loc := s.location(t, r)
	g := s.doURL(t, "GET", loc, nil, nil)
	if g.Status != http.StatusOK {
		t.Errorf("Location of the created blob is not pullable (want 200)\n%s\n%s", r, g)
		return
	}
	wantBody(t, g, b.body)
}

// startUpload opens an upload session and returns its location.
func (s *suite) startUpload(t *testing.T, repo string) *url.URL {
	t.Helper()
	r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/", nil, nil) // sent with Content-Length: 0
	wantStatus(t, r, http.StatusAccepted)
	return s.location(t, r)
}

// patchChunk sends body[start:end+1] with a Content-Range.
func (s *suite) patchChunk(t *testing.T, loc *url.URL, body []byte, start, end int) *response {
	t.Helper()
	return s.doURL(t, "PATCH", loc, hdr("Content-Type", mtOctetStream,
		"Content-Range", fmt.Sprintf("%d-%d", start, end)), body[start:end+1])
}
