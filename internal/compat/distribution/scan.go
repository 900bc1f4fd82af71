package distribution

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/storage"
)

// Source is a Distribution storage read for adoption: a driver rooted at
// Distribution's root directory (filesystem) or prefix (s3). Adoption only
// reads it.
type Source struct {
	d storage.Driver
}

// NewSource reads Distribution's layout on d.
func NewSource(d storage.Driver) *Source { return &Source{d: d} }

// Repository is what one repository's directory links to.
type Repository struct {
	Name      string
	Layers    []digest.Digest
	Revisions []digest.Digest
	Tags      []string
}

// Scan lists every repository with its links, sorted by name. Files that
// do not follow the layout are returned as problems, not errors. On the
// filesystem this is one directory walk; on S3 one flat listing of the
// repositories prefix (keys in order, 1,000 a request), never a walk
// directory by directory.
func (s *Source) Scan(ctx context.Context) ([]*Repository, []Problem, error) {
	repos := map[string]*Repository{}
	var problems []Problem
	err := s.d.Walk(ctx, RepositoriesDir, func(fi storage.FileInfo) error {
		rel := strings.TrimPrefix(fi.Path, RepositoriesDir+"/")
		l, err := ParseLinkPath(rel)
		if err != nil {
			problems = append(problems, Problem{Kind: ProblemLayout, Ref: rel, Reason: err.Error()})
			return nil
		}
		if l.Kind == LinkOther || l.Kind == LinkTagIndex {
			return nil
		}
		r := repos[l.Repo]
		if r == nil {
			r = &Repository{Name: l.Repo}
			repos[l.Repo] = r
		}
		switch l.Kind {
		case LinkLayer:
			r.Layers = append(r.Layers, l.Digest)
		case LinkRevision:
			r.Revisions = append(r.Revisions, l.Digest)
		case LinkTag:
			r.Tags = append(r.Tags, l.Tag)
		}
		return nil
	})
	if errors.Is(err, storage.ErrNotFound) {
		err = nil // no repositories at all
	}
	if err != nil {
		return nil, problems, fmt.Errorf("scan %s: %w", RepositoriesDir, err)
	}
	out := make([]*Repository, 0, len(repos))
	for _, r := range repos {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Repository) int { return strings.Compare(a.Name, b.Name) })
	return out, problems, nil
}

// TagTarget reads what a tag's current link points at.
func (s *Source) TagTarget(ctx context.Context, repo, tag string) (digest.Digest, error) {
	b, err := s.d.GetContent(ctx, RepositoriesDir+"/"+repo+"/_manifests/tags/"+tag+"/current/link")
	if err != nil {
		return "", err
	}
	return ParseLinkFile(b)
}

// Blob reads a (small) blob's bytes: a manifest.
func (s *Source) Blob(ctx context.Context, d digest.Digest) ([]byte, error) {
	return s.d.GetContent(ctx, storage.DistributionBlobPath(d))
}

// BlobSize is the size of a stored blob, or storage.ErrNotFound.
func (s *Source) BlobSize(ctx context.Context, d digest.Digest) (int64, error) {
	fi, err := s.d.Stat(ctx, storage.DistributionBlobPath(d))
	return fi.Size, err
}

// Problem is something adoption could not take over as it is: a dangling
// link (Distribution's garbage collection is known to leave them) or a
// manifest Berth does not serve.
type Problem struct {
	Kind   string `json:"kind"`
	Repo   string `json:"repo,omitempty"`
	Ref    string `json:"ref"`              // the tag, manifest or blob concerned
	Target string `json:"target,omitempty"` // what it points at that is missing
	Reason string `json:"reason"`
}

// Problem kinds.
const (
	// ProblemTag: a tag points at a manifest that is missing.
	ProblemTag = "dangling tag"
	// ProblemManifest: a manifest names a blob or child manifest that is
	// missing, or its own bytes are missing; it is not imported.
	ProblemManifest = "dangling manifest"
	// ProblemLayer: a repository links a blob whose bytes are missing.
	ProblemLayer = "dangling layer link"
	// ProblemUnsupported: a manifest Berth does not serve (Docker schema
	// 1, invalid JSON); it is not imported.
	ProblemUnsupported = "unsupported manifest"
	// ProblemLayout: a file that does not follow Distribution's layout.
	ProblemLayout = "not Distribution's layout"
)

func (p Problem) String() string {
	s := p.Kind + ": "
	if p.Repo != "" {
		s += p.Repo + " "
	}
	s += p.Ref
	if p.Target != "" {
		s += " -> " + p.Target
	}
	return s + ": " + p.Reason
}
