package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// testManifestErrors covers the error codes of the manifest endpoints and
// of repository names, and checks every refused PUT created nothing.
func testManifestErrors(t *testing.T, s *suite) {
	// refused pushes c under tag and checks the answer, then checks neither
	// the tag nor the digest resolves.
	refused := func(t *testing.T, repo string, c content, status int, codes ...string) {
		t.Helper()
		r := s.putManifest(t, repo, "refused", c)
		wantError(t, r, status, codes...)
		s.wantManifestAbsent(t, repo, "refused")
		s.wantManifestAbsent(t, repo, c.digest.String())
	}

	t.Run("missing-layer-blob", func(t *testing.T) {
		t.Parallel()
		// A registry MAY refuse a manifest naming blobs it does not have,
		// and then MUST say MANIFEST_BLOB_UNKNOWN. Berth refuses.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushBlob(t, repo, im.blobs[0]) // config only
		refused(t, repo, im.content, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	})

	t.Run("missing-config-blob", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		for _, b := range im.blobs[1:] {
			s.pushBlob(t, repo, b)
		}
		refused(t, repo, im.content, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	})

	t.Run("blobs-only-in-another-repository", func(t *testing.T) {
		t.Parallel()
		other, repo := s.repo(t, "other"), s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushChildrenAndBlobs(t, other, im)
		refused(t, repo, im.content, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
	})

	t.Run("index-with-missing-child", func(t *testing.T) {
		t.Parallel()
		// Refusing is allowed, not required; if refused, the code must be
		// MANIFEST_BLOB_UNKNOWN and nothing may be created.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		present, missing := newImage(), newImage()
		s.pushImage(t, repo, "", present)
		idx := newIndex([]*image{present, missing})
		r := s.putManifest(t, repo, "sparse", idx.content)
		if r.Status == http.StatusCreated {
			t.Logf("registry accepts an index whose children are missing (allowed)")
			return
		}
		wantError(t, r, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
		s.wantManifestAbsent(t, repo, "sparse")
		s.wantManifestAbsent(t, repo, idx.digest.String())
	})

	t.Run("malformed-json", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		for _, body := range []string{`{"schemaVersion": 2, "mediaType": "` + mtOCIManifest + `", `, "not json at all", ""} {
			refused(t, repo, newContent(mtOCIManifest, []byte(body), digest.SHA256), http.StatusBadRequest, "MANIFEST_INVALID")
		}
	})

	t.Run("wrong-schema-version", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushChildrenAndBlobs(t, repo, im)
		body := strings.Replace(string(im.body), `"schemaVersion": 2`, `"schemaVersion": 3`, 1)
		refused(t, repo, newContent(mtOCIManifest, []byte(body), digest.SHA256), http.StatusBadRequest, "MANIFEST_INVALID")
	})

	t.Run("digest-mismatch", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushChildrenAndBlobs(t, repo, im)
		wrong := digest.FromBytes(randomBytes(16))
		r := s.putManifest(t, repo, wrong.String(), im.content)
		wantError(t, r, http.StatusBadRequest, "DIGEST_INVALID")
		s.wantManifestAbsent(t, repo, wrong.String())
		s.wantManifestAbsent(t, repo, im.digest.String())
	})

	t.Run("docker-schema1-refused", func(t *testing.T) {
		t.Parallel()
		// Docker schema 1 is deprecated and not accepted. The spec names no
		// code: MANIFEST_INVALID or UNSUPPORTED.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		layer := newContent(mtDockerLayer, randomBytes(100), digest.SHA256)
		s.pushBlob(t, repo, layer)
		m := map[string]any{
			"schemaVersion": 1, "name": repo, "tag": "refused", "architecture": "amd64",
			"fsLayers": []map[string]string{{"blobSum": layer.digest.String()}},
			"history":  []map[string]string{{"v1Compatibility": `{"id":"` + strings.Repeat("ab", 32) + `"}`}},
			"signatures": []map[string]any{{
				"header":    map[string]any{"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "alg": "ES256"},
				"signature": "AAAA", "protected": "e30",
			}},
		}
		body, _ := json.MarshalIndent(m, "", "   ")
		c := newContent(mtSchema1, body, digest.SHA256)
		r := s.putManifest(t, repo, "refused", c)
		wantStatus(t, r, http.StatusBadRequest, http.StatusUnsupportedMediaType)
		wantError(t, r, r.Status, "MANIFEST_INVALID", "UNSUPPORTED")
		s.wantManifestAbsent(t, repo, "refused")
		s.wantManifestAbsent(t, repo, c.digest.String())
	})

	t.Run("reference-neither-tag-nor-digest", func(t *testing.T) {
		t.Parallel()
		// A reference that is neither a valid tag nor a digest names nothing
		// that can exist. GET, HEAD and DELETE answer 404 MANIFEST_UNKNOWN,
		// as Distribution 2.8 and 3 and zot do: clients read a 404 here as
		// "not present", and the OCI conformance suite asks for
		// .INVALID_MANIFEST_NAME and expects 404 (Berth answered 400 once).
		// A push to such a tag is still refused with 400: the spec names no
		// code; Berth sends the Docker Registry API's TAG_INVALID.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		im := newImage()
		s.pushChildrenAndBlobs(t, repo, im)
		long := strings.Repeat("t", 129) // a tag has at most 128 characters
		for _, ref := range []string{".INVALID_MANIFEST_NAME", "-dash-first", long, "sha256:xyz"} {
			t.Run(ref[:min(len(ref), 24)], func(t *testing.T) {
				r := s.getManifest(t, "GET", repo, ref)
				wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
				r = s.getManifest(t, "HEAD", repo, ref)
				wantStatus(t, r, http.StatusNotFound)
				r = s.do(t, "DELETE", "/v2/"+repo+"/manifests/"+ref, nil, nil)
				wantError(t, r, http.StatusNotFound, "MANIFEST_UNKNOWN")
				if strings.Contains(ref, ":") {
					return // a malformed digest: DIGEST_INVALID on a push
				}
				r = s.putManifest(t, repo, ref, im.content)
				wantError(t, r, http.StatusBadRequest, "TAG_INVALID", "MANIFEST_INVALID")
			})
		}
		s.wantManifestAbsent(t, repo, im.digest.String())
		s.wantTags(t, repo, "seed")
	})

	t.Run("manifest-at-size-limit-accepted", func(t *testing.T) {
		t.Parallel()
		// "Clients and registries SHOULD expect to support manifest uploads
		// of at least 4 MiB."
		repo := s.repo(t, "")
		c := s.paddedManifest(t, repo, s.opts.MaxManifestSize)
		r := s.putManifest(t, repo, "big", c)
		wantStatus(t, r, http.StatusCreated)
		g := s.getManifest(t, "GET", repo, "big")
		wantStatus(t, g, http.StatusOK)
		if g.Header.Get("Docker-Content-Digest") != c.digest.String() || len(g.Body) != len(c.body) {
			t.Errorf("manifest of %d bytes did not come back intact\n%s", len(c.body), g)
		}
	})

	t.Run("oversized-manifest-413", func(t *testing.T) {
		t.Parallel()
		// Larger than the limit: 413 Payload Too Large.
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		c := s.paddedManifest(t, repo, s.opts.MaxManifestSize+1)
		r := s.putManifest(t, repo, "refused", c)
		wantRejected(t, r, []int{http.StatusRequestEntityTooLarge}, "SIZE_INVALID", "MANIFEST_INVALID")
		s.wantManifestAbsent(t, repo, "refused")
		s.wantManifestAbsent(t, repo, c.digest.String())
	})

	t.Run("name-invalid", func(t *testing.T) {
		t.Parallel()
		// Names must match [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/...)*:
		// uppercase letters and ".." components are NAME_INVALID.
		// The blobs are pushed to target so that a server that resolved the
		// ".." and pushed into target would visibly succeed.
		target := s.repo(t, "target")
		s.seedRepo(t, target)
		im := newImage(withLayers(1))
		s.pushChildrenAndBlobs(t, target, im)
		for _, c := range []struct{ label, name string }{
			{"uppercase", target + "/UpperCase"},
			{"double-dot-in-component", target + "/a..b"},
			{"trailing-dot-dot-component", target + "/x/.."},
			{"dot-dot-traversal", s.repo(t, "") + "/x/../target"},
		} {
			t.Run(c.label, func(t *testing.T) {
				r := s.do(t, "POST", "/v2/"+c.name+"/blobs/uploads/", nil, nil)
				wantError(t, r, http.StatusBadRequest, "NAME_INVALID")
				r = s.do(t, "PUT", "/v2/"+c.name+"/manifests/refused", hdr("Content-Type", im.mediaType), im.body)
				wantError(t, r, http.StatusBadRequest, "NAME_INVALID")
			})
		}
		s.wantManifestAbsent(t, target, "refused")
		s.wantManifestAbsent(t, target, im.digest.String())
	})

	t.Run("name-unknown", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "never-created")
		r := s.getManifest(t, "GET", repo, "latest")
		wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
		r = s.do(t, "GET", "/v2/"+repo+"/blobs/"+digest.FromBytes([]byte("x")).String(), nil, nil)
		wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN", "BLOB_UNKNOWN")
		r = s.do(t, "GET", "/v2/"+repo+"/tags/list", nil, nil)
		wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN")
	})
}

// paddedManifest pushes the blobs of a small image and returns its manifest
// padded with an annotation to exactly size bytes.
func (s *suite) paddedManifest(t *testing.T, repo string, size int) content {
	t.Helper()
	im := newImage(withLayers(1), withAnnotation("org.example.pad", ""))
	s.pushChildrenAndBlobs(t, repo, im)
	pad := size - len(im.body)
	if pad < 0 {
		t.Fatalf("cannot pad a %d-byte manifest to %d bytes", len(im.body), size)
	}
	body := strings.Replace(string(im.body), `"org.example.pad": ""`,
		`"org.example.pad": "`+strings.Repeat("p", pad)+`"`, 1)
	if len(body) != size {
		t.Fatalf("padding produced %d bytes, want %d", len(body), size)
	}
	return newContent(mtOCIManifest, []byte(body), digest.SHA256)
}
