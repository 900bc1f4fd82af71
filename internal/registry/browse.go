package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// ErrInvalidQuery: a listing or search parameter is out of range.
var ErrInvalidQuery = errors.New("invalid query")

// Tag sort orders of TagList.
const (
	TagSortName   = "name"   // by name
	TagSortSemver = "semver" // by version, highest first; other names after, by name
	TagSortPushed = "pushed" // newest first
)

// TagQuery selects a page of a repository's tags.
type TagQuery struct {
	Filter string // tag names containing this
	Sort   string // TagSortName (default), TagSortSemver, TagSortPushed
	Offset int
	Limit  int // 1..MaxBrowsePage
}

// MaxBrowsePage caps the page size of the browsing lists.
const MaxBrowsePage = 500

// TagDetail is a tag as the tag list shows it: its manifest's summary,
// the platforms of an index and the total size of the image(s).
type TagDetail struct {
	meta.TagSummary
	Platforms []string // os/arch[/variant] of an index's images
	TotalSize int64    // the manifest with its config and layers (an index: with its manifests, not their layers)
}

// TagPage is one page of a repository's tags.
type TagPage struct {
	Tags  []TagDetail
	Total int // tags matching the filter
}

// TagList returns a page of repo's tags with their manifests: sorted,
// filtered and cut in the database (by version: the names are sorted
// here), then one query for the page's manifest contents (sizes and
// platforms come from them).
func (s *Service) TagList(ctx context.Context, repo string, q TagQuery) (TagPage, error) {
	if q.Limit < 1 || q.Limit > MaxBrowsePage || q.Offset < 0 {
		return TagPage{}, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidQuery, MaxBrowsePage)
	}
	switch q.Sort {
	case "", TagSortName, TagSortSemver, TagSortPushed:
	default:
		return TagPage{}, fmt.Errorf("%w: sort must be name, semver or pushed", ErrInvalidQuery)
	}
	var tags []meta.TagSummary
	var err error
	page := TagPage{}
	if q.Sort == TagSortSemver {
		tags, page.Total, err = s.semverPage(ctx, repo, q)
	} else {
		mq := meta.TagQuery{Filter: q.Filter, Sort: meta.TagsByName, Offset: q.Offset, Limit: q.Limit}
		if q.Sort == TagSortPushed {
			mq.Sort = meta.TagsByPushed
		}
		tags, page.Total, err = s.meta.TagPage(ctx, repo, mq)
	}
	if errors.Is(err, meta.ErrNotFound) {
		return TagPage{}, fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	if err != nil {
		return TagPage{}, err
	}
	var ds []digest.Digest
	for _, t := range tags {
		ds = append(ds, t.Digest)
	}
	contents, err := s.meta.ManifestContents(ctx, repo, ds)
	if err != nil {
		return TagPage{}, err
	}
	for _, t := range tags {
		d := TagDetail{TagSummary: t, TotalSize: t.Size}
		if doc, err := parseBrowseDoc(contents[t.Digest]); err == nil {
			d.TotalSize += doc.contentSize()
			d.Platforms = doc.platforms()
		}
		page.Tags = append(page.Tags, d)
	}
	return page, nil
}

// semverPage sorts the names of the matching tags by version (highest
// first, other names after them by name) and reads the page's tags.
func (s *Service) semverPage(ctx context.Context, repo string, q TagQuery) ([]meta.TagSummary, int, error) {
	names, err := s.meta.TagNames(ctx, repo, q.Filter)
	if err != nil {
		return nil, 0, err
	}
	keys := make(map[string]version, len(names))
	for _, n := range names {
		if v, ok := parseVersion(n); ok {
			keys[n] = v
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		va, oka := keys[a]
		vb, okb := keys[b]
		switch {
		case oka && okb:
			return cmp.Or(vb.compare(va), cmp.Compare(a, b))
		case oka:
			return -1
		case okb:
			return 1
		}
		return cmp.Compare(a, b)
	})
	total := len(names)
	names = names[min(q.Offset, len(names)):]
	names = names[:min(q.Limit, len(names))]
	tags, err := s.meta.TagsNamed(ctx, repo, names)
	if err != nil {
		return nil, 0, err
	}
	pos := make(map[string]int, len(names))
	for i, n := range names {
		pos[n] = i
	}
	slices.SortFunc(tags, func(a, b meta.TagSummary) int { return cmp.Compare(pos[a.Tag], pos[b.Tag]) })
	return tags, total, nil
}

// version is a tag read as a semantic version: v?MAJOR[.MINOR[.PATCH]]
// with an optional -prerelease (+build is ignored). It is parsed by hand:
// sorting ten thousand tags must take milliseconds.
type version struct {
	n   [3]uint64
	pre string
}

func parseVersion(s string) (version, bool) {
	var v version
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	s, v.pre, _ = strings.Cut(s, "-")
	parts := strings.Split(s, ".")
	if len(parts) > 3 || s == "" {
		return v, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 18 {
			return v, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return v, false
			}
			v.n[i] = v.n[i]*10 + uint64(c-'0')
		}
	}
	return v, true
}

// compare orders versions; a pre-release comes before its release.
func (a version) compare(b version) int {
	for i := range a.n {
		if c := cmp.Compare(a.n[i], b.n[i]); c != 0 {
			return c
		}
	}
	switch {
	case a.pre == b.pre:
		return 0
	case a.pre == "":
		return 1
	case b.pre == "":
		return -1
	}
	return cmp.Compare(a.pre, b.pre)
}

// Manifests lists a repository's untagged manifests or its referrers
// (meta.ManifestsUntagged, meta.ManifestsReferrers), newest first.
func (s *Service) Manifests(ctx context.Context, repo, kind string, limit int) ([]meta.ManifestSummary, error) {
	if kind != meta.ManifestsUntagged && kind != meta.ManifestsReferrers {
		return nil, fmt.Errorf("%w: kind must be %s or %s", ErrInvalidQuery, meta.ManifestsUntagged, meta.ManifestsReferrers)
	}
	if limit < 1 || limit > MaxBrowsePage {
		return nil, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidQuery, MaxBrowsePage)
	}
	out, err := s.meta.RepositoryManifests(ctx, repo, kind, limit)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	return out, err
}

// RepositoryList returns a page of repositories (of a project) with their
// tag counts, push and pull times, and how many match.
func (s *Service) RepositoryList(ctx context.Context, q meta.RepositoryQuery) ([]meta.RepositorySummary, int64, error) {
	if q.Limit < 1 || q.Limit > MaxBrowsePage || q.Offset < 0 {
		return nil, 0, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidQuery, MaxBrowsePage)
	}
	switch q.Sort {
	case "", meta.SortName, meta.SortPushed, meta.SortPulls:
	default:
		return nil, 0, fmt.Errorf("%w: sort must be name, pushed or pulls", ErrInvalidQuery)
	}
	return s.meta.ListRepositories(ctx, q)
}

// browseDoc is what the UI reads of a manifest or index (OCI and
// Docker schema 2 share these fields).
type browseDoc struct {
	MediaType    string            `json:"mediaType"`
	ArtifactType string            `json:"artifactType"`
	Config       *browseDesc       `json:"config"`
	Layers       []browseDesc      `json:"layers"`
	Manifests    []browseDesc      `json:"manifests"`
	Subject      *browseDesc       `json:"subject"`
	Annotations  map[string]string `json:"annotations"`
}

type browseDesc struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Platform     *platform         `json:"platform,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

type platform struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant,omitempty"`
}

func (p *platform) String() string {
	if p == nil || p.OS == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

func parseBrowseDoc(b []byte) (*browseDoc, error) {
	if len(b) == 0 {
		return nil, errors.New("no content")
	}
	var d browseDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func (d *browseDoc) isIndex() bool {
	return d.MediaType == oci.MediaTypeImageIndex || d.MediaType == oci.MediaTypeDockerList || (d.Config == nil && len(d.Manifests) > 0)
}

// contentSize is the bytes a manifest references: config and layers, or
// an index's manifests.
func (d *browseDoc) contentSize() int64 {
	var n int64
	if d.Config != nil {
		n += d.Config.Size
	}
	for _, l := range d.Layers {
		n += l.Size
	}
	for _, m := range d.Manifests {
		n += m.Size
	}
	return n
}

func (d *browseDoc) platforms() []string {
	var out []string
	for _, m := range d.Manifests {
		if p := m.Platform.String(); p != "" && p != "unknown/unknown" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// TagManifest points tag at a manifest repo already has (by digest), as a
// push of the same manifest with that tag would: the same checks
// (immutable tags, quotas) apply.
func (s *Service) TagManifest(ctx context.Context, repo string, dgst digest.Digest, tag string) error {
	if !oci.ValidTag(tag) {
		return fmt.Errorf("%w: invalid tag %q", ErrInvalidQuery, tag)
	}
	m, err := s.GetManifest(ctx, repo, dgst.String())
	if err != nil {
		return err
	}
	_, err = s.PutManifest(ctx, repo, tag, nil, m.MediaType, m.Content)
	return err
}
