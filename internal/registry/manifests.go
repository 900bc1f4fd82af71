package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// manifestDoc is the union of the fields of every manifest type Berth
// accepts: OCI image manifest and index, Docker schema 2 manifest and list.
type manifestDoc struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *v1.Descriptor    `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Manifests     []v1.Descriptor   `json:"manifests"`
	Subject       *v1.Descriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
	FSLayers      json.RawMessage   `json:"fsLayers"` // schema 1 only
}

// ParseManifest validates a manifest pushed with the given Content-Type and
// returns what the store records of it: media type, artifact type, subject
// and the blobs and child manifests it references.
func ParseManifest(contentType string, body []byte) (*meta.Manifest, error) {
	m, _, err := parseManifest(contentType, body)
	return m, err
}

// parseManifest is ParseManifest, also returning the size each descriptor
// gives its blob or child manifest (checked against them on a push).
func parseManifest(contentType string, body []byte) (*meta.Manifest, sizes, error) {
	if !utf8.Valid(body) {
		// encoding/json would quietly turn invalid bytes into U+FFFD.
		return nil, nil, fmt.Errorf("%w: not UTF-8 (RFC 8259: JSON is UTF-8)", ErrManifestInvalid)
	}
	sz := sizes{}
	m, err := parseManifestJSON(contentType, body, sz)
	return m, sz, err
}

func parseManifestJSON(contentType string, body []byte, sz sizes) (*meta.Manifest, error) {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(mt)
	if oci.IsSchema1(mt) && mt != "application/json" {
		return nil, fmt.Errorf("%w: Docker schema 1 manifests are not supported; push schema 2 or OCI instead", ErrManifestInvalid)
	}
	var doc manifestDoc
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: malformed JSON: %v", ErrManifestInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the JSON document", ErrManifestInvalid)
	}
	if doc.SchemaVersion != nil && *doc.SchemaVersion == 1 || doc.FSLayers != nil {
		return nil, fmt.Errorf("%w: Docker schema 1 manifests are not supported; push schema 2 or OCI instead", ErrManifestInvalid)
	}
	if doc.SchemaVersion == nil || *doc.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: schemaVersion must be 2", ErrManifestInvalid)
	}
	switch {
	case mt == "" || mt == "application/json" || mt == "application/octet-stream":
		mt = doc.MediaType
	case doc.MediaType != "" && doc.MediaType != mt:
		return nil, fmt.Errorf("%w: mediaType %q does not match Content-Type %q", ErrManifestInvalid, doc.MediaType, mt)
	}
	if mt == "" {
		// An OCI manifest may omit mediaType; tell the types apart by shape.
		if doc.Manifests != nil {
			mt = oci.MediaTypeImageIndex
		} else {
			mt = oci.MediaTypeImageManifest
		}
	}
	if !oci.IsManifestType(mt) {
		return nil, fmt.Errorf("%w: unsupported manifest media type %q", ErrManifestInvalid, mt)
	}
	m := &meta.Manifest{MediaType: mt, Content: body, Annotations: doc.Annotations}
	if doc.Subject != nil {
		if err := checkDescriptor(*doc.Subject, "subject"); err != nil {
			return nil, err
		}
		m.Subject = doc.Subject.Digest
	}
	if oci.IsIndexType(mt) {
		if doc.Config != nil || doc.Layers != nil {
			return nil, fmt.Errorf("%w: an index has no config or layers", ErrManifestInvalid)
		}
		for i, d := range doc.Manifests {
			if err := sz.check(d, fmt.Sprintf("manifests[%d]", i)); err != nil {
				return nil, err
			}
			m.Children = appendUnique(m.Children, d.Digest)
		}
		m.ArtifactType = doc.ArtifactType
		return m, nil
	}
	if doc.Manifests != nil {
		return nil, fmt.Errorf("%w: an image manifest has no manifests list", ErrManifestInvalid)
	}
	if doc.Config == nil {
		return nil, fmt.Errorf("%w: config descriptor is required", ErrManifestInvalid)
	}
	if err := sz.check(*doc.Config, "config"); err != nil {
		return nil, err
	}
	m.Blobs = append(m.Blobs, doc.Config.Digest)
	for i, d := range doc.Layers {
		if len(d.URLs) > 0 {
			if err := checkDescriptor(d, fmt.Sprintf("layers[%d]", i)); err != nil {
				return nil, err
			}
			continue // a foreign layer lives elsewhere
		}
		if err := sz.check(d, fmt.Sprintf("layers[%d]", i)); err != nil {
			return nil, err
		}
		m.Blobs = appendUnique(m.Blobs, d.Digest)
	}
	m.ArtifactType = doc.ArtifactType
	if m.ArtifactType == "" && mt == oci.MediaTypeImageManifest {
		m.ArtifactType = doc.Config.MediaType
	}
	return m, nil
}

// checkDescriptor validates a descriptor's digest, size and media type.
func checkDescriptor(d v1.Descriptor, where string) error {
	if _, err := oci.ParseDigest(d.Digest.String()); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrManifestInvalid, where, err)
	}
	if d.Size < 0 {
		return fmt.Errorf("%w: %s: negative size", ErrManifestInvalid, where)
	}
	if d.MediaType == "" {
		return fmt.Errorf("%w: %s: mediaType is required", ErrManifestInvalid, where)
	}
	return nil
}

func appendUnique(list []digest.Digest, d digest.Digest) []digest.Digest {
	if slices.Contains(list, d) {
		return list
	}
	return append(list, d)
}

// PutResult is what a manifest push reports back.
type PutResult struct {
	Digest  digest.Digest
	Subject digest.Digest
	Tags    []string
}

// PutManifest validates and stores a manifest. ref is the tag or digest of
// the URL; extraTags are the ?tag= parameters of a push by digest. The whole
// push is one transaction: on any error nothing changed.
func (s *Service) PutManifest(ctx context.Context, repo, ref string, extraTags []string, contentType string, body []byte) (PutResult, error) {
	if err := s.checkWritable(repo); err != nil {
		return PutResult{}, err
	}
	if int64(len(body)) > s.opts.MaxManifestSize {
		return PutResult{}, fmt.Errorf("%w: %d bytes, the limit is %d", ErrManifestTooLarge, len(body), s.opts.MaxManifestSize)
	}
	var tags []string
	dgst := oci.FromBytes(body)
	if d, isDigest, err := parseReference(ref); err != nil {
		return PutResult{}, err
	} else if isDigest {
		h, _ := oci.NewHash(d.Algorithm())
		h.Write(body)
		if sum := digest.NewDigest(d.Algorithm(), h); sum != d {
			return PutResult{}, fmt.Errorf("%w: manifest has digest %s, not %s", ErrDigestInvalid, sum, d)
		}
		dgst = d
	} else {
		tags = append(tags, ref)
	}
	if len(extraTags) > MaxTagsPerPush {
		return PutResult{}, fmt.Errorf("%w: %d tag parameters; a push takes at most %d", ErrTagInvalid, len(extraTags), MaxTagsPerPush)
	}
	for _, t := range extraTags {
		if !oci.ValidTag(t) {
			return PutResult{}, fmt.Errorf("%w: %q", ErrTagInvalid, t)
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	m, sz, err := parseManifest(contentType, body)
	if err != nil {
		return PutResult{}, err
	}
	// The store checks each descriptor's size against the stored content
	// in the push's transaction, with the read that finds it there.
	m.Repository, m.Digest, m.Sizes = repo, dgst, sz
	if err := s.admitManifest(ctx, repo, dgst, int64(len(body))); err != nil {
		return PutResult{}, err
	}
	rules, err := s.tagRules(ctx, repo)
	if err != nil {
		return PutResult{}, err
	}
	if len(tags) > 0 {
		// Before and after: a read racing the write cannot re-cache the old tag.
		s.cache.forgetTags(repo)
		defer s.cache.forgetTags(repo)
	}
	if err := s.putManifest(ctx, m, tags, rules); err != nil {
		var missing *meta.MissingError
		if errors.As(err, &missing) {
			return PutResult{}, &MissingReferenceError{Digest: missing.Digest, Kind: missing.Kind}
		}
		var size *meta.SizeError
		if errors.As(err, &size) {
			// Clients trust a descriptor to size their downloads: a size
			// of 2^63-1 was once accepted.
			return PutResult{}, fmt.Errorf("%w: %v", ErrManifestInvalid, size)
		}
		return PutResult{}, err
	}
	for _, f := range s.opts.OnPush {
		f(ctx, m, tags)
	}
	return PutResult{Digest: dgst, Subject: m.Subject, Tags: tags}, nil
}

// MissingReferenceError is returned when a manifest names a blob or child
// manifest the repository does not have. It is ErrManifestBlobUnknown.
type MissingReferenceError struct {
	Digest digest.Digest
	Kind   string
}

func (e *MissingReferenceError) Error() string {
	return fmt.Sprintf("%s %s is not known in this repository", e.Kind, e.Digest)
}

// Unwrap makes errors.Is(err, ErrManifestBlobUnknown) true.
func (e *MissingReferenceError) Unwrap() error { return ErrManifestBlobUnknown }

// GetManifest returns a manifest by tag or digest. For a client's pull
// (ForClient) the pull gates decide first.
func (s *Service) GetManifest(ctx context.Context, repo, ref string) (*meta.Manifest, error) {
	if _, _, err := LookupReference(ref); err != nil {
		return nil, err // before the proxy: an upstream is never asked for it
	}
	if r, ok := s.proxyRoute(ctx, repo); ok {
		m, err := s.opts.Upstream.Manifest(ctx, r, ref)
		if err != nil {
			return nil, err
		}
		if err := s.checkPull(ctx, repo, m); err != nil {
			return nil, err
		}
		return m, nil
	}
	dgst, err := s.resolve(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	m, gen := s.cache.manifest(repo, dgst)
	if m == nil {
		m, err = s.meta.Manifest(ctx, repo, dgst)
		if errors.Is(err, meta.ErrNotFound) {
			return nil, s.unknown(ctx, repo, ErrManifestUnknown, ref)
		}
		if err != nil {
			return nil, err
		}
		s.cache.putManifest(m, gen)
	}
	if err := s.checkPull(ctx, repo, m); err != nil {
		return nil, err
	}
	s.countPull(ctx, repo, dgst)
	if countsPull(ctx) {
		for _, f := range s.opts.OnPull {
			f(ctx, m, ref)
		}
	}
	return m, nil
}

// DeleteManifest deletes a manifest by digest (with every tag pointing at
// it), or only a tag when ref is a tag.
func (s *Service) DeleteManifest(ctx context.Context, repo, ref string) error {
	if !s.opts.DeleteEnabled {
		return fmt.Errorf("%w: deletion is disabled", ErrUnsupported)
	}
	d, isDigest, err := LookupReference(ref)
	if err != nil {
		return err
	}
	rules, err := s.tagRules(ctx, repo)
	if err != nil {
		return err
	}
	s.cache.forgetTags(repo)
	defer s.cache.forgetTags(repo)
	if isDigest {
		s.cache.forgetManifest(repo, d)
		defer s.cache.forgetManifest(repo, d)
		err = s.deleteManifest(ctx, repo, d, rules)
	} else {
		if err := rules.Check("deleted", ref); err != nil {
			if _, rerr := s.meta.ResolveTag(ctx, repo, ref); errors.Is(rerr, meta.ErrNotFound) {
				return s.unknown(ctx, repo, ErrManifestUnknown, ref) // nothing to protect
			}
			return err
		}
		err = s.meta.DeleteTag(ctx, repo, ref)
	}
	if errors.Is(err, meta.ErrNotFound) {
		return s.unknown(ctx, repo, ErrManifestUnknown, ref)
	}
	if err == nil {
		s.released(repo)
	}
	return err
}

// resolve turns a tag or digest into a digest.
func (s *Service) resolve(ctx context.Context, repo, ref string) (digest.Digest, error) {
	d, isDigest, err := LookupReference(ref)
	if err != nil || isDigest {
		return d, err
	}
	d, gen, ok := s.cache.tag(repo, ref)
	if ok {
		return d, nil
	}
	d, err = s.meta.ResolveTag(ctx, repo, ref)
	if errors.Is(err, meta.ErrNotFound) {
		return "", s.unknown(ctx, repo, ErrManifestUnknown, ref)
	}
	if err == nil {
		s.cache.putTag(repo, ref, d, gen)
	}
	return d, err
}

// unknown returns ErrNameUnknown when the repository does not exist at all,
// else the given not-found error.
func (s *Service) unknown(ctx context.Context, repo string, notFound error, what string) error {
	if ok, err := s.meta.RepositoryExists(ctx, repo); err == nil && !ok {
		return fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	return fmt.Errorf("%w: %s", notFound, what)
}

// parseReference tells a digest from a tag, validating either: what a push
// names must be a valid tag (ErrTagInvalid) or digest (ErrDigestInvalid).
func parseReference(ref string) (digest.Digest, bool, error) {
	if strings.Contains(ref, ":") {
		d, err := oci.ParseDigest(ref)
		if err != nil {
			return "", true, fmt.Errorf("%w: %v", ErrDigestInvalid, err)
		}
		return d, true, nil
	}
	if !oci.ValidTag(ref) {
		return "", false, fmt.Errorf("%w: %q", ErrTagInvalid, ref)
	}
	return "", false, nil
}

// LookupReference is parseReference for reads (GET, HEAD, DELETE, and the
// pull-through cache before it asks an upstream): a reference that is
// neither a valid tag nor a digest (".INVALID_MANIFEST_NAME", "sha256:xyz")
// names nothing that could exist, so it is ErrManifestUnknown (404), as
// Distribution and zot answer and as clients read "not present"; only a
// push refuses it as invalid (400).
func LookupReference(ref string) (d digest.Digest, isDigest bool, err error) {
	d, isDigest, err = parseReference(ref)
	if err != nil {
		return "", false, fmt.Errorf("%w: %q is neither a tag nor a digest", ErrManifestUnknown, ref)
	}
	return d, isDigest, nil
}
