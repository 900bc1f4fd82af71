package conformance

import (
	"crypto/rand"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Media types used by the suite.
const (
	mtOCIManifest  = v1.MediaTypeImageManifest
	mtOCIIndex     = v1.MediaTypeImageIndex
	mtOCIConfig    = v1.MediaTypeImageConfig
	mtOCILayer     = v1.MediaTypeImageLayerGzip
	mtEmptyJSON    = v1.MediaTypeEmptyJSON
	mtDockerV2     = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList   = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerConfig = "application/vnd.docker.container.image.v1+json"
	mtDockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mtSchema1      = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mtOctetStream  = "application/octet-stream"
)

// acceptAll is the Accept header a modern client sends: every manifest
// type it understands.
var acceptAll = strings.Join([]string{mtOCIManifest, mtOCIIndex, mtDockerV2, mtDockerList}, ", ")

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// content is one piece of pushed content: a blob or a manifest.
type content struct {
	mediaType string
	body      []byte
	digest    digest.Digest
}

func (c content) desc() v1.Descriptor {
	return v1.Descriptor{MediaType: c.mediaType, Digest: c.digest, Size: int64(len(c.body))}
}

func newContent(mediaType string, body []byte, alg digest.Algorithm) content {
	return content{mediaType: mediaType, body: body, digest: alg.FromBytes(body)}
}

// image is a manifest (or index) together with the blobs it needs.
type image struct {
	content
	blobs    []content
	children []*image // for indexes
}

// imageSpec describes the manifest to build; see the with* helpers.
type imageSpec struct {
	mediaType    string
	configType   string
	config       []byte
	layerType    string
	layers       int
	layerSize    int
	artifactType string
	subject      *v1.Descriptor
	annotations  map[string]string
	alg          digest.Algorithm
}

type imageOpt func(*imageSpec)

func withMediaType(mt string) imageOpt     { return func(s *imageSpec) { s.mediaType = mt } }
func withArtifactType(at string) imageOpt  { return func(s *imageSpec) { s.artifactType = at } }
func withSubject(d v1.Descriptor) imageOpt { return func(s *imageSpec) { s.subject = &d } }
func withLayers(n int) imageOpt            { return func(s *imageSpec) { s.layers = n } }
func withAlg(a digest.Algorithm) imageOpt  { return func(s *imageSpec) { s.alg = a } }
func withLayerType(mt string) imageOpt     { return func(s *imageSpec) { s.layerType = mt } }
func withAnnotation(k, v string) imageOpt {
	return func(s *imageSpec) {
		if s.annotations == nil {
			s.annotations = map[string]string{}
		}
		s.annotations[k] = v
	}
}
func withConfig(mt string, body []byte) imageOpt {
	return func(s *imageSpec) { s.configType, s.config = mt, body }
}

// newImage builds an image manifest with fresh random content, so that no
// two tests ever share a blob or a manifest.
func newImage(opts ...imageOpt) *image {
	sp := imageSpec{mediaType: mtOCIManifest, layers: 2, layerSize: 1024, alg: digest.SHA256}
	for _, o := range opts {
		o(&sp)
	}
	if sp.configType == "" {
		sp.configType = mtOCIConfig
		if sp.mediaType == mtDockerV2 {
			sp.configType = mtDockerConfig
		}
	}
	if sp.layerType == "" {
		sp.layerType = mtOCILayer
		if sp.mediaType == mtDockerV2 {
			sp.layerType = mtDockerLayer
		}
	}
	im := &image{}
	var layers []v1.Descriptor
	var diffIDs []digest.Digest
	for i := 0; i < sp.layers; i++ {
		l := newContent(sp.layerType, randomBytes(sp.layerSize), sp.alg)
		im.blobs = append(im.blobs, l)
		layers = append(layers, l.desc())
		diffIDs = append(diffIDs, l.digest)
	}
	if sp.config == nil {
		cfg := map[string]any{
			"architecture": "amd64",
			"os":           "linux",
			"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
			"config":       map[string]any{"Labels": map[string]string{"nonce": fmt.Sprintf("%x", randomBytes(8))}},
		}
		sp.config, _ = json.Marshal(cfg)
	}
	cfg := newContent(sp.configType, sp.config, sp.alg)
	im.blobs = append([]content{cfg}, im.blobs...)
	if layers == nil {
		layers = []v1.Descriptor{}
	}
	m := v1.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    sp.mediaType,
		ArtifactType: sp.artifactType,
		Config:       cfg.desc(),
		Layers:       layers,
		Subject:      sp.subject,
		Annotations:  sp.annotations,
	}
	body, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		panic(err)
	}
	im.content = newContent(sp.mediaType, body, sp.alg)
	return im
}

// newIndex builds an index (OCI or Docker manifest list) over children.
func newIndex(children []*image, opts ...imageOpt) *image {
	sp := imageSpec{mediaType: mtOCIIndex, alg: digest.SHA256}
	for _, o := range opts {
		o(&sp)
	}
	idx := v1.Index{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    sp.mediaType,
		ArtifactType: sp.artifactType,
		Manifests:    []v1.Descriptor{},
		Subject:      sp.subject,
		Annotations:  sp.annotations,
	}
	archs := []string{"amd64", "arm64", "s390x", "ppc64le"}
	for i, c := range children {
		d := c.desc()
		d.Platform = &v1.Platform{OS: "linux", Architecture: archs[i%len(archs)]}
		idx.Manifests = append(idx.Manifests, d)
	}
	body, err := json.MarshalIndent(idx, "", "   ")
	if err != nil {
		panic(err)
	}
	return &image{content: newContent(sp.mediaType, body, sp.alg), children: children}
}

// pushBlob uploads one blob with POST then PUT, the flow every registry
// must support, and checks it was created.
func (s *suite) pushBlob(t *testing.T, repo string, b content) {
	t.Helper()
	post := "/v2/" + repo + "/blobs/uploads/"
	if b.digest.Algorithm() != digest.SHA256 {
		post += "?digest-algorithm=" + b.digest.Algorithm().String()
	}
	r := s.do(t, "POST", post, nil, nil)
	wantStatus(t, r, http.StatusAccepted)
	u := withQuery(s.location(t, r), "digest", b.digest.String())
	r = s.doURL(t, "PUT", u, hdr("Content-Type", mtOctetStream), b.body)
	wantStatus(t, r, http.StatusCreated)
}

// pushImage uploads the image's blobs (and, for an index, its children)
// and then the manifest under ref (a tag, or "" to push by digest).
func (s *suite) pushImage(t *testing.T, repo, ref string, im *image) {
	t.Helper()
	for _, c := range im.children {
		s.pushImage(t, repo, "", c)
	}
	for _, b := range im.blobs {
		s.pushBlob(t, repo, b)
	}
	if ref == "" {
		ref = im.digest.String()
	}
	r := s.putManifest(t, repo, ref, im.content)
	wantStatus(t, r, http.StatusCreated)
}

func (s *suite) putManifest(t *testing.T, repo, ref string, c content) *response {
	t.Helper()
	return s.do(t, "PUT", "/v2/"+repo+"/manifests/"+ref, hdr("Content-Type", c.mediaType), c.body)
}

func (s *suite) getManifest(t *testing.T, method, repo, ref string) *response {
	t.Helper()
	return s.do(t, method, "/v2/"+repo+"/manifests/"+ref, hdr("Accept", acceptAll), nil)
}

// seedRepo makes sure repo exists by pushing a small image to it, so that
// a later 404 can only mean "this object is unknown", not "no such name".
func (s *suite) seedRepo(t *testing.T, repo string) *image {
	t.Helper()
	im := newImage(withLayers(1))
	s.pushImage(t, repo, "seed", im)
	return im
}

// wantManifestAbsent checks that ref is not retrievable from repo.
func (s *suite) wantManifestAbsent(t *testing.T, repo, ref string) {
	t.Helper()
	r := s.getManifest(t, "GET", repo, ref)
	if r.Status != http.StatusNotFound {
		t.Errorf("manifest %s:%s must not exist, but GET answered %d\n%s", repo, ref, r.Status, r)
		return
	}
	codes, problem := errorCodes(r)
	if problem != "" {
		t.Errorf("404 for missing manifest: %s\n%s", problem, r)
	} else if !containsAny(codes, "MANIFEST_UNKNOWN", "NAME_UNKNOWN") {
		t.Errorf("404 for missing manifest: want code MANIFEST_UNKNOWN (or NAME_UNKNOWN), got %v\n%s", codes, r)
	}
}

// wantBlobAbsent checks that the blob is not retrievable from repo.
func (s *suite) wantBlobAbsent(t *testing.T, repo string, d digest.Digest, codes ...string) {
	t.Helper()
	if len(codes) == 0 {
		codes = []string{"BLOB_UNKNOWN", "NAME_UNKNOWN"}
	}
	r := s.do(t, "HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("blob %s must not exist in %s, but HEAD answered %d\n%s", d, repo, r.Status, r)
	}
	r = s.do(t, "GET", "/v2/"+repo+"/blobs/"+d.String(), nil, nil)
	if r.Status != http.StatusNotFound {
		t.Errorf("blob %s must not exist in %s, but GET answered %d\n%s", d, repo, r.Status, r)
		return
	}
	got, problem := errorCodes(r)
	if problem != "" {
		t.Errorf("404 for missing blob: %s\n%s", problem, r)
	} else if !containsAny(got, codes...) {
		t.Errorf("404 for missing blob: want code %s, got %v\n%s", strings.Join(codes, " or "), got, r)
	}
}

func containsAny(have []string, want ...string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}
