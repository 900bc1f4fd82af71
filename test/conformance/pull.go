package conformance

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testPull covers the spec's "Pull" workflow category: manifests and blobs
// by GET and HEAD, their headers, Range requests and content negotiation.
func testPull(t *testing.T, s *suite) {
	t.Run("manifest-get-by-tag", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage()
		s.pushImage(t, repo, "latest", im)
		r := s.getManifest(t, "GET", repo, "latest")
		wantStatus(t, r, http.StatusOK)
		checkManifestResponse(t, r, im.content, true)
	})

	t.Run("manifest-get-by-digest", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage()
		s.pushImage(t, repo, "latest", im)
		r := s.getManifest(t, "GET", repo, im.digest.String())
		wantStatus(t, r, http.StatusOK)
		checkManifestResponse(t, r, im.content, true)
	})

	t.Run("manifest-head", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage()
		s.pushImage(t, repo, "latest", im)
		for _, ref := range []string{"latest", im.digest.String()} {
			r := s.getManifest(t, "HEAD", repo, ref)
			wantStatus(t, r, http.StatusOK)
			checkManifestResponse(t, r, im.content, false)
		}
	})

	t.Run("manifest-unknown", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		for _, ref := range []string{"no-such-tag", digest.FromBytes(randomBytes(16)).String()} {
			r := s.getManifest(t, "GET", repo, ref)
			wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
			r = s.getManifest(t, "HEAD", repo, ref)
			wantStatus(t, r, http.StatusNotFound)
		}
	})

	t.Run("blob-get", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(4096), digest.SHA256)
		s.pushBlob(t, repo, b)
		r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, b.body)
		wantHeader(t, r, "Content-Length", strconv.Itoa(len(b.body)))
		wantDigestHeader(t, r, b)
	})

	t.Run("blob-head", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(4096), digest.SHA256)
		s.pushBlob(t, repo, b)
		r := s.do(t, "HEAD", "/v2/"+repo+"/blobs/"+b.digest.String(), nil, nil)
		wantStatus(t, r, http.StatusOK)
		if len(r.Body) != 0 {
			t.Errorf("HEAD response has a body\n%s", r)
		}
		wantHeader(t, r, "Content-Length", strconv.Itoa(len(b.body)))
		wantDigestHeader(t, r, b)
	})

	t.Run("blob-unknown", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		s.wantBlobAbsent(t, repo, digest.FromBytes(randomBytes(16)), "BLOB_UNKNOWN")
	})

	t.Run("blob-range", func(t *testing.T) {
		t.Parallel()
		// spec: "Range request support" (RFC 9110 byte ranges) — the
		// "Resumable Pull" use case.
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(1000), digest.SHA256)
		s.pushBlob(t, repo, b)
		n := len(b.body)
		cases := []struct {
			rng        string
			start, end int // inclusive
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=10-19", 10, 19},
			{"bytes=990-", 990, n - 1},
			{"bytes=-7", n - 7, n - 1},
			{"bytes=900-5000", 900, n - 1},
		}
		for _, c := range cases {
			r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), hdr("Range", c.rng), nil)
			wantStatus(t, r, http.StatusPartialContent)
			wantHeader(t, r, "Content-Range", fmt.Sprintf("bytes %d-%d/%d", c.start, c.end, n))
			wantHeader(t, r, "Content-Length", strconv.Itoa(c.end-c.start+1))
			wantBody(t, r, b.body[c.start:c.end+1])
		}
	})

	t.Run("blob-range-not-satisfiable", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		b := newContent(mtOCILayer, randomBytes(1000), digest.SHA256)
		s.pushBlob(t, repo, b)
		r := s.do(t, "GET", "/v2/"+repo+"/blobs/"+b.digest.String(), hdr("Range", "bytes=1000-1010"), nil)
		wantStatus(t, r, http.StatusRequestedRangeNotSatisfiable)
		// RFC 9110 §15.5.17: SHOULD send Content-Range: bytes */<length>.
		if cr := r.Header.Get("Content-Range"); cr != "" && cr != "bytes */1000" {
			t.Errorf("416 Content-Range: want %q, got %q\n%s", "bytes */1000", cr, r)
		}
	})

	t.Run("content-negotiation", func(t *testing.T) {
		t.Parallel()
		// spec: "Pulling manifests" — the Accept header lists the types a
		// client supports and Content-Type names the type returned.
		repo := s.repo(t, "")
		oci := newImage()
		s.pushImage(t, repo, "oci", oci)
		docker := newImage(withMediaType(mtDockerV2))
		s.pushImage(t, repo, "docker", docker)
		list := newIndex([]*image{newImage(withMediaType(mtDockerV2)), newImage(withMediaType(mtDockerV2))},
			withMediaType(mtDockerList))
		s.pushImage(t, repo, "list", list)
		index := newIndex([]*image{newImage(), newImage()})
		s.pushImage(t, repo, "index", index)

		cases := []struct {
			ref    string
			want   content
			accept []string // one Accept header line each
		}{
			{"oci", oci.content, []string{mtOCIManifest}},
			{"oci", oci.content, []string{acceptAll}},
			// Docker sends one Accept header line per type.
			{"oci", oci.content, []string{mtDockerV2, mtDockerList, mtOCIManifest, mtOCIIndex}},
			{"oci", oci.content, []string{mtOCIManifest + ";q=0.9, " + mtOCIIndex + ";q=0.5"}},
			{"docker", docker.content, []string{mtDockerV2}},
			{"docker", docker.content, []string{mtDockerList + ", " + mtDockerV2}},
			{"list", list.content, []string{mtDockerList, mtDockerV2}},
			{"index", index.content, []string{mtOCIIndex, mtOCIManifest}},
			{index.digest.String(), index.content, []string{mtOCIIndex}},
		}
		for _, c := range cases {
			h := http.Header{"Accept": c.accept}
			r := s.do(t, "GET", "/v2/"+repo+"/manifests/"+c.ref, h, nil)
			if r.Status != http.StatusOK {
				t.Errorf("GET %s with Accept %q: want 200\n%s", c.ref, c.accept, r)
				continue
			}
			checkManifestResponse(t, r, c.want, true)
		}
	})
}

// checkManifestResponse checks the headers (and body, for GET) of a
// successful manifest fetch.
func checkManifestResponse(t *testing.T, r *response, want content, withBody bool) {
	t.Helper()
	wantHeader(t, r, "Content-Type", want.mediaType)
	wantDigestHeader(t, r, want)
	wantHeader(t, r, "Content-Length", strconv.Itoa(len(want.body)))
	if withBody {
		wantBody(t, r, want.body)
	} else if len(r.Body) != 0 {
		t.Errorf("HEAD response has a body\n%s", r)
	}
}
