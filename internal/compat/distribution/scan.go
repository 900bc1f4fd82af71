package distribution

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

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

// scanWorkers is how many listings of the repositories tree run at once.
const scanWorkers = 8

// Scan lists every repository with its links, sorted by name. Files that
// do not follow the layout are returned as problems, not errors. With a
// driver that can list a directory (storage.Lister: both of Berth's), the
// top-level entries of the repositories tree are walked in parallel; on S3
// each walk is one flat key listing (1,000 keys a request), never a walk
// directory by directory.
func (s *Source) Scan(ctx context.Context) ([]*Repository, []Problem, error) {
	var mu sync.Mutex
	repos := map[string]*Repository{}
	var problems []Problem
	visit := func(fi storage.FileInfo) error {
		rel := strings.TrimPrefix(fi.Path, RepositoriesDir+"/")
		l, err := ParseLinkPath(rel)
		mu.Lock()
		defer mu.Unlock()
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
	}
	prefixes := []string{RepositoriesDir}
	if l, ok := s.d.(storage.Lister); ok {
		names, err := l.List(ctx, RepositoriesDir)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, nil, nil // no repositories at all
		}
		if err != nil {
			return nil, nil, fmt.Errorf("scan %s: %w", RepositoriesDir, err)
		}
		prefixes = prefixes[:0]
		for _, n := range names {
			prefixes = append(prefixes, RepositoriesDir+"/"+n)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(scanWorkers)
	for _, p := range prefixes {
		g.Go(func() error {
			err := s.d.Walk(gctx, p, visit)
			if errors.Is(err, storage.ErrNotFound) {
				return nil // gone meanwhile, or no repositories at all
			}
			if err != nil {
				return fmt.Errorf("scan %s: %w", p, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, problems, err
	}
	out := make([]*Repository, 0, len(repos))
	for _, r := range repos {
		slices.Sort(r.Tags)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Repository) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(problems, func(a, b Problem) int { return strings.Compare(a.Ref, b.Ref) })
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
