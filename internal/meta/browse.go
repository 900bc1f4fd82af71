package meta

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// Repository sort orders of ListRepositories.
const (
	SortName   = "name"   // by name, ascending
	SortPushed = "pushed" // last push, newest first
	SortPulls  = "pulls"  // pull count, most first
)

// RepositoryQuery selects a page of repositories.
type RepositoryQuery struct {
	Project string // only repositories of this project ("" for all)
	Filter  string // only names containing this, case-insensitively
	Sort    string // SortName (default), SortPushed, SortPulls
	Offset  int
	Limit   int
}

// RepositorySummary is a repository as a list shows it.
type RepositorySummary struct {
	Name     string
	Tags     int64
	PushedAt time.Time // last manifest or tag pushed
	Pulls    int64     // manifest downloads (GET) since counting began
	PulledAt time.Time // zero: never pulled
}

// Tag sort orders of TagPage.
const (
	TagsByName   = "name"
	TagsByPushed = "pushed"
)

// TagQuery selects a page of a repository's tags.
type TagQuery struct {
	Filter string // only names containing this, case-insensitively
	Sort   string // TagsByName (default) or TagsByPushed
	Offset int
	Limit  int
}

// TagSummary is a tag with the manifest it points at, without the
// manifest's content.
type TagSummary struct {
	Tag          string
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Size         int64 // of the manifest itself
	PushedAt     time.Time
	PulledAt     time.Time // zero: never pulled
}

// ManifestSummary is a stored manifest without its content.
type ManifestSummary struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Subject      digest.Digest
	Size         int64
	CreatedAt    time.Time
	PulledAt     time.Time
}

// Manifest kinds of RepositoryManifests.
const (
	// ManifestsUntagged: no tag, no subject, and no index of the
	// repository lists it (what garbage collection would consider).
	ManifestsUntagged = "untagged"
	// ManifestsReferrers: manifests with a subject (signatures, SBOMs, ...).
	ManifestsReferrers = "referrers"
)

// Pull is one or more downloads of a manifest, for RecordPulls.
type Pull struct {
	Repository string
	Digest     digest.Digest
	Count      int64
	At         time.Time
}

// TagHit and DigestHit are search results.
type (
	TagHit struct {
		Repository string
		Tag        string
		Digest     digest.Digest
		PushedAt   time.Time
	}
	DigestHit struct {
		Repository string
		Digest     digest.Digest
		MediaType  string
	}
)

// BrowseStore answers what the web UI and the browsing API list: pages of
// repositories and tags with what a list shows, search, recent pushes,
// pull statistics. Every method is one or two queries, whatever the
// number of rows (no query per row).
type BrowseStore interface {
	// ListRepositories returns a page of repositories and how many match.
	ListRepositories(ctx context.Context, q RepositoryQuery) ([]RepositorySummary, int64, error)
	// TagPage returns a page of repo's tags with their manifests (sorted by
	// name, or by push time, newest first) and how many match; ErrNotFound
	// when the repository does not exist.
	TagPage(ctx context.Context, repo string, q TagQuery) ([]TagSummary, int, error)
	// TagNames lists the names of repo's tags containing filter
	// (case-insensitively; "" for all), for orders SQL cannot sort in
	// (versions); ErrNotFound when the repository does not exist.
	TagNames(ctx context.Context, repo, filter string) ([]string, error)
	// TagsNamed returns those of names that are tags of repo, with their
	// manifests, in no particular order.
	TagsNamed(ctx context.Context, repo string, names []string) ([]TagSummary, error)
	// RepositoryManifests lists repo's manifests of a kind
	// (ManifestsUntagged, ManifestsReferrers), newest first, at most limit.
	RepositoryManifests(ctx context.Context, repo, kind string, limit int) ([]ManifestSummary, error)
	// ManifestContents returns the content of those of dgsts repo has.
	ManifestContents(ctx context.Context, repo string, dgsts []digest.Digest) (map[digest.Digest][]byte, error)
	// ManifestTags lists the tags pointing at a manifest, and when it was
	// last pulled.
	ManifestTags(ctx context.Context, repo string, dgst digest.Digest) ([]string, time.Time, error)
	// SearchRepositories lists repository names containing q
	// (case-insensitively), by name, at most limit.
	SearchRepositories(ctx context.Context, q string, limit int) ([]string, error)
	// SearchTags lists tags whose name contains q, newest first.
	SearchTags(ctx context.Context, q string, limit int) ([]TagHit, error)
	// SearchDigests lists manifests whose digest starts with prefix.
	SearchDigests(ctx context.Context, prefix string, limit int) ([]DigestHit, error)
	// RecentTags lists the tags pushed most recently, newest first.
	RecentTags(ctx context.Context, limit int) ([]TagHit, error)
	// CountRepositories counts repositories.
	CountRepositories(ctx context.Context) (int64, error)
	// RecordPulls adds downloads to the repositories' pull counts and sets
	// the manifests' last pull times. Unknown ones are ignored.
	RecordPulls(ctx context.Context, pulls []Pull) error
}
