package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// SearchResult is what a search finds, only among what the caller may
// see. Jump is set when the query names one thing exactly (a digest that
// one visible repository has, name:tag or name@digest): the UI goes
// straight there.
type SearchResult struct {
	Query        string      `json:"query"`
	Jump         *Jump       `json:"jump,omitempty"`
	Projects     []string    `json:"projects"`
	Repositories []string    `json:"repositories"`
	Tags         []TagHit    `json:"tags"`
	Digests      []DigestHit `json:"digests"`
}

// Jump is the one artifact a query named.
type Jump struct {
	Repository string        `json:"repository"`
	Tag        string        `json:"tag,omitempty"`
	Digest     digest.Digest `json:"digest"`
}

// TagHit is a tag a search found.
type TagHit struct {
	Repository string        `json:"repository"`
	Tag        string        `json:"tag"`
	Digest     digest.Digest `json:"digest"`
	PushedAt   time.Time     `json:"pushed_at"`
}

// DigestHit is a manifest a search found by digest.
type DigestHit struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	MediaType  string        `json:"media_type"`
}

// searchFetch is how many rows each search query reads before the
// visibility filter; results are cut to the caller's limit after it.
const searchFetch = 500

// Search looks for q among project and repository names, tag names and
// digests (a prefix of at least 4 hex digits after "sha256:"). visible
// filters repositories (nil: all).
func (s *Service) Search(ctx context.Context, q string, visible func(string) bool, limit int) (*SearchResult, error) {
	q = strings.TrimSpace(q)
	if q == "" || len(q) > 300 {
		return nil, fmt.Errorf("%w: the query must have 1 to 300 characters", ErrInvalidQuery)
	}
	if limit < 1 || limit > MaxBrowsePage {
		return nil, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidQuery, MaxBrowsePage)
	}
	see := func(repo string) bool { return visible == nil || visible(repo) }
	res := &SearchResult{Query: q, Projects: []string{}, Repositories: []string{}, Tags: []TagHit{}, Digests: []DigestHit{}}
	if j, err := s.jump(ctx, q, see); err != nil {
		return nil, err
	} else if j != nil {
		res.Jump = j
		return res, nil
	}
	projects, err := s.meta.Projects(ctx)
	if err != nil {
		return nil, err
	}
	lq := strings.ToLower(q)
	for _, p := range projects {
		if len(res.Projects) < limit && strings.Contains(strings.ToLower(p.Name), lq) && see(p.Name+"/") {
			res.Projects = append(res.Projects, p.Name)
		}
	}
	repos, err := s.meta.SearchRepositories(ctx, q, searchFetch)
	if err != nil {
		return nil, err
	}
	for _, r := range repos {
		if len(res.Repositories) < limit && see(r) {
			res.Repositories = append(res.Repositories, r)
		}
	}
	tags, err := s.meta.SearchTags(ctx, q, searchFetch)
	if err != nil {
		return nil, err
	}
	for _, t := range tags {
		if len(res.Tags) < limit && see(t.Repository) {
			res.Tags = append(res.Tags, TagHit(t))
		}
	}
	if prefix, ok := digestPrefix(q); ok {
		ds, err := s.meta.SearchDigests(ctx, prefix, searchFetch)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			if len(res.Digests) < limit && see(d.Repository) {
				res.Digests = append(res.Digests, DigestHit(d))
			}
		}
	}
	return res, nil
}

// digestPrefix accepts "sha256:" and at least 4 lower-case hex digits.
func digestPrefix(q string) (string, bool) {
	alg, hex, ok := strings.Cut(q, ":")
	if !ok || (alg != "sha256" && alg != "sha512") || len(hex) < 4 {
		return "", false
	}
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", false
		}
	}
	return q, true
}

// jump finds the one artifact q names exactly, if any.
func (s *Service) jump(ctx context.Context, q string, see func(string) bool) (*Jump, error) {
	if name, ref, ok := strings.Cut(q, "@"); ok {
		d, err := oci.ParseDigest(ref)
		if err != nil || !oci.ValidName(name) || !see(name) {
			return nil, nil
		}
		if _, err := s.meta.Manifest(ctx, name, d); err != nil {
			return nil, ignoreNotFound(err)
		}
		return &Jump{Repository: name, Digest: d}, nil
	}
	if d, err := oci.ParseDigest(q); err == nil {
		hits, err := s.meta.SearchDigests(ctx, d.String(), searchFetch)
		if err != nil {
			return nil, err
		}
		var found *Jump
		for _, h := range hits {
			if h.Digest == d && see(h.Repository) {
				if found != nil {
					return nil, nil // in several repositories: list them
				}
				found = &Jump{Repository: h.Repository, Digest: d}
			}
		}
		return found, nil
	}
	if i := strings.LastIndexByte(q, ':'); i > 0 {
		name, tag := q[:i], q[i+1:]
		if !oci.ValidName(name) || !oci.ValidTag(tag) || !see(name) {
			return nil, nil
		}
		d, err := s.meta.ResolveTag(ctx, name, tag)
		if err != nil {
			return nil, ignoreNotFound(err)
		}
		return &Jump{Repository: name, Tag: tag, Digest: d}, nil
	}
	return nil, nil
}

func ignoreNotFound(err error) error {
	if errors.Is(err, meta.ErrNotFound) {
		return nil
	}
	return err
}

// Stats are registry-wide counts for the home page and
// GET /api/v1/statistics.
type Stats struct {
	Projects     int64 `json:"projects"`
	Repositories int64 `json:"repositories"`
	Blobs        int64 `json:"blobs"`
	StorageBytes int64 `json:"storage_bytes"`
}

// Stats counts projects, repositories and stored blobs.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	ps, err := s.meta.Projects(ctx)
	if err != nil {
		return st, err
	}
	st.Projects = int64(len(ps))
	if st.Repositories, err = s.meta.CountRepositories(ctx); err != nil {
		return st, err
	}
	st.Blobs, st.StorageBytes, err = s.meta.BlobStats(ctx)
	return st, err
}

// RecentTags lists the tags pushed most recently that visible accepts
// (nil: all), at most n.
func (s *Service) RecentTags(ctx context.Context, visible func(string) bool, n int) ([]TagHit, error) {
	if n < 1 || n > MaxBrowsePage {
		return nil, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidQuery, MaxBrowsePage)
	}
	hits, err := s.meta.RecentTags(ctx, searchFetch)
	if err != nil {
		return nil, err
	}
	out := []TagHit{}
	for _, h := range hits {
		if len(out) < n && (visible == nil || visible(h.Repository)) {
			out = append(out, TagHit(h))
		}
	}
	return out, nil
}
