package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Page is one page of a lexically ordered listing; More tells whether
// another page follows (its first entry comes after the last of this one).
type Page struct {
	Items []string
	More  bool
}

// MaxPageSize caps n on listings, so one request cannot ask for everything.
const MaxPageSize = 10000

// pageSize turns the client's n (-1 when absent) into a query limit.
func pageSize(n int) int {
	if n < 0 || n > MaxPageSize {
		return MaxPageSize
	}
	return n
}

// Tags lists a repository's tags after last.
func (s *Service) Tags(ctx context.Context, repo, last string, n int) (Page, error) {
	if r, ok := s.proxyRoute(ctx, repo); ok {
		repo = r.Repo // the tags cached so far
	}
	limit := pageSize(n)
	items, err := s.meta.Tags(ctx, repo, last, limit+1)
	if errors.Is(err, meta.ErrNotFound) {
		return Page{}, fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	return page(items, limit), err
}

// Catalog lists repository names after last; with visible, only those it
// accepts (reading further batches until the page is full).
func (s *Service) Catalog(ctx context.Context, last string, n int, visible func(string) bool) (Page, error) {
	limit := pageSize(n)
	if visible == nil {
		items, err := s.meta.Repositories(ctx, last, limit+1)
		return page(items, limit), err
	}
	batch := max(limit+1, catalogBatch)
	var items []string
	for {
		names, err := s.meta.Repositories(ctx, last, batch)
		if err != nil {
			return Page{}, err
		}
		for _, name := range names {
			if visible(name) {
				if items = append(items, name); len(items) > limit {
					return page(items, limit), nil
				}
			}
		}
		if len(names) < batch {
			return page(items, limit), nil
		}
		last = names[len(names)-1]
	}
}

// catalogBatch is how many names a filtered catalog reads at a time.
const catalogBatch = 500

func page(items []string, limit int) Page {
	if len(items) > limit {
		return Page{Items: items[:limit], More: true}
	}
	if items == nil {
		items = []string{}
	}
	return Page{Items: items}
}

// Referrers returns the OCI index of the manifests whose subject is dgst,
// filtered by artifactType when it is not empty. An unknown subject has an
// empty list, not an error.
func (s *Service) Referrers(ctx context.Context, repo string, dgst digest.Digest, artifactType string) (*v1.Index, error) {
	if r, ok := s.proxyRoute(ctx, repo); ok {
		repo = r.Repo
	}
	descs, err := s.meta.Referrers(ctx, repo, dgst, artifactType)
	if err != nil {
		return nil, err
	}
	idx := &v1.Index{MediaType: oci.MediaTypeImageIndex, Manifests: make([]v1.Descriptor, 0, len(descs))}
	idx.SchemaVersion = 2
	for _, d := range descs {
		idx.Manifests = append(idx.Manifests, v1.Descriptor{
			MediaType:    d.MediaType,
			Digest:       d.Digest,
			Size:         d.Size,
			ArtifactType: d.ArtifactType,
			Annotations:  d.Annotations,
		})
	}
	return idx, nil
}
