package conformance

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// testPushManifests covers "Pushing Manifests" for every manifest type the
// registry must store: OCI image manifest and index, Docker schema 2
// manifest and manifest list, and OCI artifacts.
func testPushManifests(t *testing.T, s *suite) {
	types := []struct {
		name string
		make func() *image
	}{
		{"oci-image-manifest", func() *image { return newImage() }},
		{"oci-image-index", func() *image { return newIndex([]*image{newImage(), newImage()}) }},
		{"docker-schema2-manifest", func() *image { return newImage(withMediaType(mtDockerV2)) }},
		{"docker-manifest-list", func() *image {
			return newIndex([]*image{newImage(withMediaType(mtDockerV2)), newImage(withMediaType(mtDockerV2))},
				withMediaType(mtDockerList))
		}},
		{"artifact-with-artifact-type", func() *image {
			return newImage(withArtifactType("application/vnd.example.sbom.v1"),
				withConfig(mtEmptyJSON, []byte("{}")), withLayers(1),
				withLayerType("application/vnd.example.sbom.layer.v1+json"))
		}},
		{"artifact-with-custom-config-type", func() *image {
			return newImage(withConfig("application/vnd.example.config.v1+json", []byte(`{"hello":"world"}`)),
				withLayerType("application/vnd.example.data.v1.tar"), withLayers(1))
		}},
		{"artifact-index-with-artifact-type", func() *image {
			return newIndex([]*image{newImage(), newImage()}, withArtifactType("application/vnd.example.bundle.v1"))
		}},
	}
	for _, typ := range types {
		t.Run(typ.name+"-by-tag", func(t *testing.T) {
			t.Parallel()
			repo := s.repo(t, "")
			im := typ.make()
			s.pushChildrenAndBlobs(t, repo, im)
			r := s.putManifest(t, repo, "v1", im.content)
			wantStatus(t, r, http.StatusCreated)
			s.checkManifestCreated(t, r, im.content)
			g := s.getManifest(t, "GET", repo, "v1")
			wantStatus(t, g, http.StatusOK)
			checkManifestResponse(t, g, im.content, true)
			for _, c := range im.children {
				g := s.getManifest(t, "GET", repo, c.digest.String())
				wantStatus(t, g, http.StatusOK)
				checkManifestResponse(t, g, c.content, true)
			}
		})
		t.Run(typ.name+"-by-digest", func(t *testing.T) {
			t.Parallel()
			repo := s.repo(t, "")
			im := typ.make()
			s.pushChildrenAndBlobs(t, repo, im)
			r := s.putManifest(t, repo, im.digest.String(), im.content)
			wantStatus(t, r, http.StatusCreated)
			s.checkManifestCreated(t, r, im.content)
			g := s.getManifest(t, "GET", repo, im.digest.String())
			wantStatus(t, g, http.StatusOK)
			checkManifestResponse(t, g, im.content, true)
		})
	}

	t.Run("bytes-stored-verbatim", func(t *testing.T) {
		t.Parallel()
		// "The registry MUST store the manifest exactly as provided":
		// unknown fields, key order and whitespace survive.
		repo := s.repo(t, "")
		base := newImage()
		s.pushChildrenAndBlobs(t, repo, base)
		body := strings.Replace(string(base.body), "{", "{\n  \"org.example.unknown\" : [ 1, {\"x\": null} ] ,\t", 1)
		c := newContent(mtOCIManifest, []byte(body+"\n\n"), "sha256")
		r := s.putManifest(t, repo, "weird", c)
		wantStatus(t, r, http.StatusCreated)
		s.checkManifestCreated(t, r, c)
		g := s.getManifest(t, "GET", repo, "weird")
		wantStatus(t, g, http.StatusOK)
		checkManifestResponse(t, g, c, true)
	})

	t.Run("tag-moves-to-new-manifest", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		first, second := newImage(), newImage()
		s.pushImage(t, repo, "moving", first)
		s.pushImage(t, repo, "moving", second)
		g := s.getManifest(t, "GET", repo, "moving")
		wantStatus(t, g, http.StatusOK)
		checkManifestResponse(t, g, second.content, true)
		// The old manifest is still there by digest.
		g = s.getManifest(t, "GET", repo, first.digest.String())
		wantStatus(t, g, http.StatusOK)
		checkManifestResponse(t, g, first.content, true)
	})

	t.Run("one-manifest-several-tags", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		im := newImage()
		s.pushImage(t, repo, "a", im)
		for _, tag := range []string{"b", "c"} {
			r := s.putManifest(t, repo, tag, im.content)
			wantStatus(t, r, http.StatusCreated)
			s.checkManifestCreated(t, r, im.content)
		}
		for _, tag := range []string{"a", "b", "c"} {
			g := s.getManifest(t, "GET", repo, tag)
			wantStatus(t, g, http.StatusOK)
			checkManifestResponse(t, g, im.content, true)
		}
	})

	t.Run("multiple-tag-query-parameters", func(t *testing.T) {
		if s.opts.SkipMultiTag {
			t.Skip("Options.SkipMultiTag")
		}
		t.Parallel()
		// spec (pushing manifests): a PUT by digest MAY carry several
		// `tag` query parameters; a registry that supports them MUST
		// answer with an OCI-Tag header for each accepted tag.
		repo := s.repo(t, "")
		im := newImage()
		s.pushChildrenAndBlobs(t, repo, im)
		tags := []string{"1.2.3", "1.2", "1", "latest"}
		r := s.do(t, "PUT", "/v2/"+repo+"/manifests/"+im.digest.String()+
			"?tag=1.2.3&tag=1.2&tag=1&tag=latest", hdr("Content-Type", im.mediaType), im.body)
		wantStatus(t, r, http.StatusCreated)
		s.checkManifestCreated(t, r, im.content)
		got := ociTags(r)
		for _, tag := range tags {
			if !slices.Contains(got, tag) {
				t.Errorf("OCI-Tag headers %q do not include %q\n%s", got, tag, r)
			}
		}
		for _, tag := range tags {
			g := s.getManifest(t, "GET", repo, tag)
			wantStatus(t, g, http.StatusOK)
			checkManifestResponse(t, g, im.content, true)
		}
		list := s.do(t, "GET", "/v2/"+repo+"/tags/list", nil, nil)
		wantStatus(t, list, http.StatusOK)
		have := decodeTags(t, list)
		for _, tag := range tags {
			if !slices.Contains(have, tag) {
				t.Errorf("tags/list does not include %q\n%s", tag, list)
			}
		}
	})
}

// ociTags returns every tag named by the OCI-Tag response headers (one
// header may carry a comma-separated list).
func ociTags(r *response) []string {
	var out []string
	for _, v := range r.Header.Values("OCI-Tag") {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// pushChildrenAndBlobs pushes everything a manifest refers to.
func (s *suite) pushChildrenAndBlobs(t *testing.T, repo string, im *image) {
	t.Helper()
	for _, c := range im.children {
		s.pushImage(t, repo, "", c)
	}
	for _, b := range im.blobs {
		s.pushBlob(t, repo, b)
	}
}

// checkManifestCreated checks the answer to a successful manifest PUT: the
// Location is a pullable manifest URL and Docker-Content-Digest is the
// digest of what was sent.
func (s *suite) checkManifestCreated(t *testing.T, r *response, c content) {
	t.Helper()
	wantHeader(t, r, "Docker-Content-Digest", c.digest.String())
	loc := s.location(t, r)
	g := s.doURL(t, "GET", loc, hdr("Accept", acceptAll), nil)
	if g.Status != http.StatusOK {
		t.Errorf("Location of the created manifest is not pullable (want 200)\n%s\n%s", r, g)
		return
	}
	wantBody(t, g, c.body)
}
