package conformance

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testSHA512 covers content addressed with sha512, the other algorithm
// registered by the OCI image spec: blob uploads opened with
// `?digest-algorithm=sha512`, `sha512:` digests everywhere a digest goes,
// and manifests pushed by a sha512 digest.
func testSHA512(t *testing.T, s *suite) {
	if s.opts.SkipSHA512 {
		t.Skip("Options.SkipSHA512")
	}
	t.Run("blob-post-then-put", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(5000), digest.SHA512)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest-algorithm=sha512", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		r = s.doURL(t, "PUT", withQuery(s.location(t, r), "digest", b.digest.String()),
			hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
		s.checkSHA512Blob(t, repo, b)
	})

	t.Run("blob-single-post", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(5000), digest.SHA512)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+b.digest.String(),
			hdr("Content-Type", mtOctetStream), b.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
		s.checkSHA512Blob(t, repo, b)
	})

	t.Run("blob-chunked", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(20000), digest.SHA512)
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest-algorithm=sha512", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		loc := s.location(t, r)
		r = s.patchChunk(t, loc, b.body, 0, 9999)
		wantStatus(t, r, http.StatusAccepted)
		wantHeader(t, r, "Range", "0-9999")
		s.finishChunked(t, s.location(t, r), b, 10000)
		s.checkSHA512Blob(t, repo, b)
	})

	t.Run("blob-mount", func(t *testing.T) {
		t.Parallel()
		from, to := s.repo(t, "from"), s.repo(t, "to")
		b := newContent(mtOCILayer, randomBytes(3000), digest.SHA512)
		s.pushBlob(t, from, b)
		r := s.do(t, "POST", "/v2/"+to+"/blobs/uploads/?mount="+b.digest.String()+"&from="+from, nil, nil)
		wantStatus(t, r, http.StatusCreated)
		s.checkBlobCreated(t, r, b)
		s.checkSHA512Blob(t, to, b)
	})

	t.Run("blob-digest-mismatch", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		b := newContent(mtOCILayer, randomBytes(1000), digest.SHA512)
		wrong := digest.SHA512.FromBytes(randomBytes(10))
		r := s.do(t, "POST", "/v2/"+repo+"/blobs/uploads/?digest-algorithm=sha512", nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		r = s.doURL(t, "PUT", withQuery(s.location(t, r), "digest", wrong.String()),
			hdr("Content-Type", mtOctetStream), b.body)
		wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
		s.wantBlobAbsent(t, repo, wrong, "BLOB_UNKNOWN")
		s.wantBlobAbsent(t, repo, b.digest, "BLOB_UNKNOWN")
	})

	t.Run("manifest-by-sha512-digest", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage(withAlg(digest.SHA512))
		s.pushChildrenAndBlobs(t, repo, im)
		r := s.putManifest(t, repo, im.digest.String(), im.content)
		wantStatus(t, r, http.StatusCreated)
		s.checkManifestCreated(t, r, im.content)
		for _, m := range []string{"GET", "HEAD"} {
			g := s.getManifest(t, m, repo, im.digest.String())
			wantStatus(t, g, http.StatusOK)
			checkManifestResponse(t, g, im.content, m == "GET")
		}
	})

	t.Run("index-by-sha512-digest", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		idx := newIndex([]*image{newImage(withAlg(digest.SHA512)), newImage(withAlg(digest.SHA512))},
			withAlg(digest.SHA512))
		s.pushChildrenAndBlobs(t, repo, idx)
		r := s.putManifest(t, repo, idx.digest.String(), idx.content)
		wantStatus(t, r, http.StatusCreated)
		s.checkManifestCreated(t, r, idx.content)
		g := s.getManifest(t, "GET", repo, idx.digest.String())
		wantStatus(t, g, http.StatusOK)
		checkManifestResponse(t, g, idx.content, true)
	})

	t.Run("manifest-by-sha512-digest-with-tag", func(t *testing.T) {
		if s.opts.SkipMultiTag {
			t.Skip("Options.SkipMultiTag")
		}
		t.Parallel()
		// Pushing by digest with ?tag= is how a client tags a manifest
		// whose digest is not the registry's canonical sha256.
		repo := s.repo(t, "")
		im := newImage(withAlg(digest.SHA512))
		s.pushChildrenAndBlobs(t, repo, im)
		r := s.do(t, "PUT", "/v2/"+repo+"/manifests/"+im.digest.String()+"?tag=sha512-tagged",
			hdr("Content-Type", im.mediaType), im.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkManifestCreated(t, r, im.content)
		if got := ociTags(r); len(got) != 1 || got[0] != "sha512-tagged" {
			t.Errorf("want OCI-Tag: sha512-tagged, got %q\n%s", got, r)
		}
		g := s.getManifest(t, "GET", repo, "sha512-tagged")
		wantStatus(t, g, http.StatusOK)
		wantBody(t, g, im.body)
		g = s.getManifest(t, "GET", repo, im.digest.String())
		wantStatus(t, g, http.StatusOK)
		checkManifestResponse(t, g, im.content, true)
	})
}

// checkSHA512Blob fetches a sha512 blob by its digest with GET and HEAD.
func (s *suite) checkSHA512Blob(t *testing.T, repo string, b content) {
	t.Helper()
	for _, m := range []string{"GET", "HEAD"} {
		r := s.do(t, m, "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		if r.Status != http.StatusOK {
			t.Errorf("%s sha512 blob: want 200\n%s", m, r)
			continue
		}
		wantDigestHeader(t, r, b)
		wantHeader(t, r, "Content-Length", strconv.Itoa(len(b.body)))
		if m == "GET" {
			wantBody(t, r, b.body)
		}
	}
	r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), hdr("Range", "bytes=5-14"), nil)
	if r.Status != http.StatusPartialContent {
		t.Errorf("Range GET of a sha512 blob: want 206\n%s", r)
		return
	}
	wantHeader(t, r, "Content-Range", fmt.Sprintf("bytes 5-14/%d", len(b.body)))
	wantBody(t, r, b.body[5:15])
}
