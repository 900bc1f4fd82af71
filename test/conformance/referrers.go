package conformance

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"testing"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	atSBOM      = "application/vnd.example.sbom.v1"
	atBundle    = "application/vnd.example.bundle.v1"
	mtSigConfig = "application/vnd.example.signature.config.v1+json"
)

// testReferrers covers "Listing Referrers" (end-12a, end-12b) and "Pushing
// Manifests with Subject" (the OCI-Subject response header).
func testReferrers(t *testing.T, s *suite) {
	if s.opts.SkipReferrers {
		t.Skip("Options.SkipReferrers")
	}

	t.Run("empty-index-when-no-referrers", func(t *testing.T) {
		t.Parallel()
		// The referrers API MUST NOT answer 404: a subject with no
		// referrers, pushed or not, gives an empty image index.
		repo := s.repo(t, "")
		seed := s.seedRepo(t, repo)
		for _, d := range []digest.Digest{seed.digest, digest.FromBytes(randomBytes(16))} {
			idx := s.getReferrers(t, repo, d, "")
			if len(idx.raw) != 0 {
				t.Errorf("want no referrers for %s, got %d", d, len(idx.raw))
			}
		}
	})

	t.Run("list-referrers", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		subject := newImage()
		s.pushImage(t, repo, "subject", subject)
		refs := s.pushReferrerSet(t, repo, subject.desc())

		// Unrelated content that must not be listed.
		s.pushImage(t, repo, "unrelated", newImage())
		other := newImage()
		s.pushImage(t, repo, "", newImage(withSubject(other.desc()), withLayers(1)))

		idx := s.getReferrers(t, repo, subject.digest, "")
		idx.wantExactly(t, refs)
	})

	t.Run("artifact-type-filter", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		subject := newImage()
		s.pushImage(t, repo, "subject", subject)
		refs := s.pushReferrerSet(t, repo, subject.desc())

		for _, f := range []struct {
			artifactType string
			want         []referrer
		}{
			{atSBOM, []referrer{refs[0]}},
			{mtSigConfig, []referrer{refs[1]}},
			{atBundle, []referrer{refs[2]}},
			{"application/vnd.example.none.v1", nil},
		} {
			idx := s.getReferrers(t, repo, subject.digest, f.artifactType)
			wantHeader(t, idx.resp, "OCI-Filters-Applied", "artifactType")
			idx.wantExactly(t, f.want)
		}
	})

	t.Run("subject-need-not-exist", func(t *testing.T) {
		t.Parallel()
		// "A registry MUST accept an otherwise valid manifest with a subject
		// field that references a manifest that does not exist."
		repo := s.repo(t, "")
		subject := newImage()
		ref := newImage(withSubject(subject.desc()), withArtifactType(atSBOM),
			withConfig(mtEmptyJSON, []byte("{}")), withLayers(1), withAnnotation("org.example.n", s.unique()))
		s.pushChildrenAndBlobs(t, repo, ref)
		r := s.putManifest(t, repo, ref.digest.String(), ref.content)
		wantStatus(t, r, http.StatusCreated)
		wantHeader(t, r, "OCI-Subject", subject.digest.String())
		want := []referrer{{ref.content, atSBOM, ref.annotations()}}
		s.getReferrers(t, repo, subject.digest, "").wantExactly(t, want)

		// Pushing the subject afterwards changes nothing.
		s.pushImage(t, repo, "subject", subject)
		s.getReferrers(t, repo, subject.digest, "").wantExactly(t, want)
	})

	t.Run("scoped-to-repository", func(t *testing.T) {
		t.Parallel()
		a, b := s.repo(t, "a"), s.repo(t, "b")
		subject := newImage()
		s.pushImage(t, a, "subject", subject)
		s.pushImage(t, b, "subject", subject)
		s.pushReferrerSet(t, a, subject.desc())
		s.getReferrers(t, b, subject.digest, "").wantExactly(t, nil)
	})

	t.Run("deleted-referrer-is-removed", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		subject := newImage()
		s.pushImage(t, repo, "subject", subject)
		refs := s.pushReferrerSet(t, repo, subject.desc())
		r := s.do(t, "DELETE", "/v2/"+repo+"/manifests/"+refs[0].digest.String(), nil, nil)
		wantStatus(t, r, http.StatusAccepted)
		s.getReferrers(t, repo, subject.digest, "").wantExactly(t, refs[1:])
	})

	t.Run("invalid-digest-400", func(t *testing.T) {
		t.Parallel()
		repo := s.repo(t, "")
		s.seedRepo(t, repo)
		r := s.do(t, "GET", "/v2/"+repo+"/referrers/sha256:not-a-digest", nil, nil)
		wantStatus(t, r, http.StatusBadRequest)
		checkErrorIfJSON(t, r)
	})
}

// referrer is what the referrers list must say about one manifest.
type referrer struct {
	content
	artifactType string // "" means the field must be absent
	annotations  map[string]string
}

func (im *image) annotations() map[string]string {
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	_ = json.Unmarshal(im.body, &m)
	return m.Annotations
}

// pushReferrerSet pushes four referrers of subject and checks each PUT
// answers OCI-Subject: an artifact with artifactType, an image manifest
// without one (so its config media type stands in), and two indexes, with
// and without artifactType.
func (s *suite) pushReferrerSet(t *testing.T, repo string, subject v1.Descriptor) []referrer {
	t.Helper()
	a := newImage(withSubject(subject), withArtifactType(atSBOM), withConfig(mtEmptyJSON, []byte("{}")),
		withLayers(1), withAnnotation("org.example.name", "sbom-"+s.unique()))
	b := newImage(withSubject(subject), withConfig(mtSigConfig, []byte(`{"sig":"`+s.unique()+`"}`)),
		withLayers(1), withAnnotation("org.example.name", "sig-"+s.unique()), withAnnotation("org.example.x", "y"))
	c := newIndex([]*image{newImage(), newImage()}, withSubject(subject), withArtifactType(atBundle),
		withAnnotation("org.example.name", "bundle-"+s.unique()))
	d := newIndex([]*image{newImage()}, withSubject(subject), withAnnotation("org.example.name", "idx-"+s.unique()))
	refs := []referrer{
		{a.content, atSBOM, a.annotations()},
		{b.content, mtSigConfig, b.annotations()},
		{c.content, atBundle, c.annotations()},
		{d.content, "", d.annotations()},
	}
	for i, im := range []*image{a, b, c, d} {
		s.pushChildrenAndBlobs(t, repo, im)
		ref := im.digest.String()
		if i == 1 {
			ref = "tagged-referrer"
		}
		r := s.putManifest(t, repo, ref, im.content)
		wantStatus(t, r, http.StatusCreated)
		wantHeader(t, r, "OCI-Subject", subject.Digest.String())
	}
	return refs
}

type referrersIndex struct {
	resp *response
	raw  []map[string]json.RawMessage
}

// getReferrers fetches the referrers list and checks it is an image index.
func (s *suite) getReferrers(t *testing.T, repo string, d digest.Digest, artifactType string) referrersIndex {
	t.Helper()
	path := "/v2/" + repo + "/referrers/" + d.String()
	if artifactType != "" {
		path += "?artifactType=" + url.QueryEscape(artifactType)
	}
	r := s.do(t, "GET", path, nil, nil)
	wantStatus(t, r, http.StatusOK)
	wantHeader(t, r, "Content-Type", mtOCIIndex)
	var idx struct {
		SchemaVersion int                          `json:"schemaVersion"`
		MediaType     string                       `json:"mediaType"`
		Manifests     []map[string]json.RawMessage `json:"manifests"`
	}
	if err := json.Unmarshal(r.Body, &idx); err != nil {
		t.Fatalf("referrers response is not JSON: %v\n%s", err, r)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != mtOCIIndex || idx.Manifests == nil {
		t.Fatalf(`referrers response must be an image index with schemaVersion 2, mediaType %q and a "manifests" array`+"\n%s", mtOCIIndex, r)
	}
	return referrersIndex{resp: r, raw: idx.Manifests}
}

// wantExactly checks the index lists exactly these referrers, in any order,
// each with the right descriptor fields.
func (idx referrersIndex) wantExactly(t *testing.T, want []referrer) {
	t.Helper()
	if len(idx.raw) != len(want) {
		t.Errorf("want %d referrers, got %d\n%s", len(want), len(idx.raw), idx.resp)
	}
	byDigest := map[string]map[string]json.RawMessage{}
	for _, m := range idx.raw {
		var d string
		_ = json.Unmarshal(m["digest"], &d)
		byDigest[d] = m
	}
	for _, w := range want {
		m, ok := byDigest[w.digest.String()]
		if !ok {
			t.Errorf("referrer %s (%s) is missing\n%s", w.digest, w.mediaType, idx.resp)
			continue
		}
		var d v1.Descriptor
		raw, _ := json.Marshal(m)
		_ = json.Unmarshal(raw, &d)
		if d.MediaType != w.mediaType || d.Size != int64(len(w.body)) {
			t.Errorf("referrer %s: want mediaType %q size %d, got %q %d\n%s",
				w.digest, w.mediaType, len(w.body), d.MediaType, d.Size, idx.resp)
		}
		if _, present := m["artifactType"]; w.artifactType == "" && present {
			t.Errorf("referrer %s is an index without artifactType: the descriptor must omit artifactType\n%s", w.digest, idx.resp)
		} else if d.ArtifactType != w.artifactType {
			t.Errorf("referrer %s: want artifactType %q, got %q\n%s", w.digest, w.artifactType, d.ArtifactType, idx.resp)
		}
		if !maps.Equal(d.Annotations, w.annotations) {
			t.Errorf("referrer %s: want annotations %v, got %v\n%s", w.digest, w.annotations, d.Annotations, idx.resp)
		}
	}
}
