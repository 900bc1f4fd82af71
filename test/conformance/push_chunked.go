package conformance

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testPushChunked covers "Pushing a blob in chunks": PATCH with
// Content-Range, the 416 for chunks out of order, upload status and
// resuming an upload.
func testPushChunked(t *testing.T, s *suite) {
	t.Run("chunked-patch-then-put", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(30000), digest.SHA256)
		loc := s.startUpload(t, repo)
		for _, c := range [][2]int{{0, 9999}, {10000, 19999}, {20000, 29999}} {
			r := s.patchChunk(t, loc, b.body, c[0], c[1])
			wantStatus(t, r, http.StatusAccepted)
			wantHeader(t, r, "Range", fmt.Sprintf("0-%d", c[1]))
			loc = s.location(t, r)
		}
		r := s.doURL(t, "PUT", withQuery(loc, "digest", b.digest.String()), nil, nil)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("chunked-final-chunk-in-put", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(25000), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.patchChunk(t, loc, b.body, 0, 9999)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.location(t, r)
		r = s.patchChunk(t, loc, b.body, 10000, 19999)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.location(t, r)
		r = s.doURL(t, "PUT", withQuery(loc, "digest", b.digest.String()), hdr("Content-Type", mtOctetStream,
			"Content-Range", fmt.Sprintf("%d-%d", 20000, len(b.body)-1)), b.body[20000:])
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
	})

	t.Run("chunk-out-of-order-416", func(t *testing.T) {
		t.Parallel()
		// "If a chunk is uploaded out of order, the registry MUST respond
		// with a 416". The session survives and can be completed.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(300), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.patchChunk(t, loc, b.body, 0, 99)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.location(t, r)

		// Skips bytes 100-199.
		r = s.patchChunk(t, loc, b.body, 200, 299)
		wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
		checkErrorIfJSON(t, r)

		loc = s.wantUploadStatus(t, loc, 99)
		s.finishChunked(t, loc, b, 100)
	})

	t.Run("chunk-overlapping-416", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(300), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.patchChunk(t, loc, b.body, 0, 99)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.location(t, r)

		// Re-sending the previous chunk, and a chunk overlapping it.
		for _, c := range [][2]int{{0, 99}, {50, 149}} {
			r = s.patchChunk(t, loc, b.body, c[0], c[1])
			wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
			checkErrorIfJSON(t, r)
		}
		loc = s.wantUploadStatus(t, loc, 99)
		s.finishChunked(t, loc, b, 100)
	})

	t.Run("first-chunk-not-at-zero-416", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(300), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.patchChunk(t, loc, b.body, 10, 109)
		wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
		checkErrorIfJSON(t, r)
		s.wantBlobAbsent(t, repo, b.digest, "BLOB_UNKNOWN")
	})

	t.Run("upload-status", func(t *testing.T) {
		t.Parallel()
		// spec: GET <location> (end-13) answers 204 with Location and
		// Range: 0-<end-of-range>.
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(2048), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.doURL(t, "GET", loc, nil, nil)
		wantStatus(t, r, http.StatusNoContent)
		loc = s.location(t, r)
		r = s.patchChunk(t, loc, b.body, 0, 1023)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.wantUploadStatus(t, s.location(t, r), 1023)
		s.finishChunked(t, loc, b, 1024)
	})

	t.Run("resume-after-status", func(t *testing.T) {
		t.Parallel()
		// The "Resumable Push" use case: a client that lost track of its
		// progress asks for the status and continues from there.
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(3000), digest.SHA256)
		loc := s.startUpload(t, repo)
		r := s.patchChunk(t, loc, b.body, 0, 1499)
		wantStatus(t, r, http.StatusAccepted)
		loc = s.location(t, r)

		r = s.doURL(t, "GET", loc, nil, nil)
		wantStatus(t, r, http.StatusNoContent)
		var end int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "0-%d", &end); err != nil {
			t.Fatalf("upload status Range header is not 0-<end>: %v\n%s", err, r)
		}
		s.finishChunked(t, s.location(t, r), b, end+1)
	})
}

// wantUploadStatus asks for the status of an upload and checks it reports
// bytes 0..end received; it returns the location to continue with.
func (s *suite) wantUploadStatus(t *testing.T, loc *url.URL, end int) *url.URL {
	t.Helper()
	r := s.doURL(t, "GET", loc, nil, nil)
	wantStatus(t, r, http.StatusNoContent)
	wantHeader(t, r, "Range", fmt.Sprintf("0-%d", end))
	return s.location(t, r)
}

// finishChunked sends b.body[from:] as one chunk and closes the upload.
func (s *suite) finishChunked(t *testing.T, loc *url.URL, b content, from int) {
	t.Helper()
	r := s.patchChunk(t, loc, b.body, from, len(b.body)-1)
	wantStatus(t, r, http.StatusAccepted)
	wantHeader(t, r, "Range", fmt.Sprintf("0-%d", len(b.body)-1))
	r = s.doURL(t, "PUT", withQuery(s.location(t, r), "digest", b.digest.String()), nil, nil)
	wantStatus(t, r, http.StatusCreated)
	s.checkBlobCreated(t, r, b)
}
