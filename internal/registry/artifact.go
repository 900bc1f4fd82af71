package registry

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Artifact is everything the artifact page (and GET .../repositories/
// {name}@{digest} of the management API) shows of a manifest.
type Artifact struct {
	Repository   string        `json:"repository"`
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"media_type"`
	ArtifactType string        `json:"artifact_type,omitempty"`
	Size         int64         `json:"size"`
	TotalSize    int64         `json:"total_size"`
	Tags         []string      `json:"tags"`
	PushedAt     time.Time     `json:"pushed_at"`
	PulledAt     *time.Time    `json:"pulled_at,omitempty"`
	Subject      digest.Digest `json:"subject,omitempty"`

	Config      *Layer            `json:"config,omitempty"`
	Layers      []Layer           `json:"layers,omitempty"`
	Children    []Child           `json:"manifests,omitempty"` // of an index
	Annotations map[string]string `json:"annotations,omitempty"`

	// From the image configuration, when there is one.
	Platform string            `json:"platform,omitempty"`
	Created  *time.Time        `json:"created,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	History  []HistoryStep     `json:"history,omitempty"`

	Referrers []Referrer `json:"referrers"`

	Manifest   []byte `json:"-"` // the exact bytes
	ConfigJSON []byte `json:"-"` // the configuration blob, when it is JSON and small
}

// Layer is a blob a manifest references.
type Layer struct {
	MediaType   string            `json:"media_type"`
	Digest      digest.Digest     `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Child is a manifest an index lists.
type Child struct {
	MediaType    string        `json:"media_type"`
	Digest       digest.Digest `json:"digest"`
	Size         int64         `json:"size"`
	Platform     string        `json:"platform,omitempty"`
	ArtifactType string        `json:"artifact_type,omitempty"`
}

// HistoryStep is one step of the image's build history (a Dockerfile
// instruction, mostly).
type HistoryStep struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
	Comment    string     `json:"comment,omitempty"`
}

// Referrer is a manifest whose subject is the artifact (a signature, an
// SBOM, an attestation), with its own referrers.
type Referrer struct {
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"media_type"`
	ArtifactType string            `json:"artifact_type"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Referrers    []Referrer        `json:"referrers,omitempty"`
}

// maxConfigRead bounds the image configuration read for the page.
const maxConfigRead = 1 << 20

// referrerDepth bounds the referrers tree (a signature of an SBOM of an
// image is depth 2).
const referrerDepth = 3

// Artifact describes a manifest of repo by tag or digest.
func (s *Service) Artifact(ctx context.Context, repo, ref string) (*Artifact, error) {
	m, err := s.GetManifest(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	tags, pulled, err := s.meta.ManifestTags(ctx, repo, m.Digest)
	if err != nil && !errors.Is(err, meta.ErrNotFound) { // a proxied manifest may not be stored
		return nil, err
	}
	a := &Artifact{Repository: repo, Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType,
		Size: int64(len(m.Content)), TotalSize: int64(len(m.Content)), Tags: tags, PushedAt: m.CreatedAt,
		Subject: m.Subject, Manifest: m.Content, Annotations: m.Annotations}
	if a.Tags == nil {
		a.Tags = []string{}
	}
	if !pulled.IsZero() {
		a.PulledAt = &pulled
	}
	doc, err := parseBrowseDoc(m.Content)
	if err != nil {
		return nil, err
	}
	if a.Annotations == nil {
		a.Annotations = doc.Annotations
	}
	a.TotalSize += doc.contentSize()
	for _, l := range doc.Layers {
		a.Layers = append(a.Layers, Layer{MediaType: l.MediaType, Digest: l.Digest, Size: l.Size, Annotations: l.Annotations})
	}
	for _, c := range doc.Manifests {
		a.Children = append(a.Children, Child{MediaType: c.MediaType, Digest: c.Digest, Size: c.Size,
			Platform: c.Platform.String(), ArtifactType: c.ArtifactType})
	}
	if doc.Config != nil {
		a.Config = &Layer{MediaType: doc.Config.MediaType, Digest: doc.Config.Digest, Size: doc.Config.Size}
		if doc.Config.Size <= maxConfigRead && isJSON(doc.Config.MediaType) {
			if err := s.readConfig(ctx, repo, a); err != nil {
				s.log.WarnContext(ctx, "reading an image configuration", "repo", repo, "digest", a.Config.Digest.String(), "error", err)
			}
		}
	}
	if a.Referrers, err = s.referrerTree(ctx, repo, m.Digest, referrerDepth); err != nil {
		return nil, err
	}
	return a, nil
}

func isJSON(mt string) bool {
	return mt == "application/vnd.oci.image.config.v1+json" || mt == "application/vnd.docker.container.image.v1+json" ||
		len(mt) > 5 && mt[len(mt)-5:] == "+json" || mt == "application/json"
}

// imageConfig is the part of an image configuration the page shows.
type imageConfig struct {
	Created      *time.Time `json:"created"`
	OS           string     `json:"os"`
	Architecture string     `json:"architecture"`
	Variant      string     `json:"variant"`
	Config       struct {
		Labels map[string]string `json:"Labels"`
	} `json:"config"`
	History []struct {
		Created    *time.Time `json:"created"`
		CreatedBy  string     `json:"created_by"`
		EmptyLayer bool       `json:"empty_layer"`
		Comment    string     `json:"comment"`
	} `json:"history"`
}

func (s *Service) readConfig(ctx context.Context, repo string, a *Artifact) error {
	b, err := s.meta.Blob(ctx, repo, a.Config.Digest)
	if err != nil {
		return err
	}
	rc, err := s.blobs.Open(ctx, b.Digest, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigRead))
	if err != nil {
		return err
	}
	a.ConfigJSON = raw
	var c imageConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil // not an image configuration: shown raw only
	}
	p := platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant}
	a.Platform, a.Created, a.Labels = p.String(), c.Created, c.Config.Labels
	for _, h := range c.History {
		if h.CreatedBy == "" && h.Comment == "" {
			continue // nothing to show (tools that write only times)
		}
		a.History = append(a.History, HistoryStep{Created: h.Created, CreatedBy: h.CreatedBy, EmptyLayer: h.EmptyLayer, Comment: h.Comment})
	}
	return nil
}

// referrerTree lists the referrers of dgst and theirs, depth levels deep:
// one query per manifest that has referrers.
func (s *Service) referrerTree(ctx context.Context, repo string, dgst digest.Digest, depth int) ([]Referrer, error) {
	descs, err := s.meta.Referrers(ctx, repo, dgst, "")
	if err != nil {
		return nil, err
	}
	out := []Referrer{}
	for _, d := range descs {
		r := Referrer{Digest: d.Digest, MediaType: d.MediaType, ArtifactType: d.ArtifactType, Size: d.Size, Annotations: d.Annotations}
		if depth > 1 {
			if r.Referrers, err = s.referrerTree(ctx, repo, d.Digest, depth-1); err != nil {
				return nil, err
			}
		}
		out = append(out, r)
	}
	return out, nil
}
