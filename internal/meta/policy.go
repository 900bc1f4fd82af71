package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrTagImmutable: a push would move a tag that must not move. Returned
// wrapped in *ImmutableTagError by PutManifestGuarded.
var ErrTagImmutable = errors.New("meta: tag is immutable")

// ImmutableTagError names the tag a guarded push would have moved.
type ImmutableTagError struct {
	Tag string
}

func (e *ImmutableTagError) Error() string {
	return fmt.Sprintf("tag %s points at another manifest and may not move", e.Tag)
}

// Unwrap makes errors.Is(err, ErrTagImmutable) true.
func (e *ImmutableTagError) Unwrap() error { return ErrTagImmutable }

// Unlimited is the value of a quota limit that does not limit.
const Unlimited = -1

// ImmutableRule makes tags of a project immutable: the tags matching Tags
// in the repositories matching Repositories (patterns of internal/policy,
// the repository relative to the project) cannot be moved or deleted.
type ImmutableRule struct {
	ID           int64
	Project      string
	Repositories string
	Tags         string
	CreatedAt    time.Time
}

// Quota is a project's limits; each is Unlimited or a maximum.
type Quota struct {
	Project      string
	StorageBytes int64 // distinct blobs and manifests of the project, bytes
	Repositories int64
	Manifests    int64
	UpdatedAt    time.Time
}

// Usage is what a project or repository holds. A blob or manifest held by
// several repositories of a project counts once in the project's usage.
type Usage struct {
	StorageBytes int64 // bytes of the distinct blobs and manifests
	Blobs        int64 // distinct blobs (linked, or referenced by a manifest)
	Manifests    int64 // manifests (a manifest in two repositories counts twice)
	Repositories int64
	Tags         int64
}

// RetentionPolicy is a project's retention rules, as the JSON document
// internal/policy defines, and its schedule.
type RetentionPolicy struct {
	Project   string
	Rules     string // JSON
	Schedule  string // "" for none
	UpdatedAt time.Time
}

// RetentionRun is the record of one retention run.
type RetentionRun struct {
	ID         int64
	Project    string
	Trigger    string // "api", "cli", "schedule"
	DryRun     bool
	StartedAt  time.Time
	FinishedAt time.Time
	Status     string // "done" or "failed"
	Summary    string // JSON
}

// TagDetail is a tag with the manifest it points at and when it was last
// pushed (moved).
type TagDetail struct {
	Name     string
	Digest   digest.Digest
	PushedAt time.Time
}

// UntaggedManifest names a manifest of a repository and when it was pushed.
type UntaggedManifest struct {
	Digest   digest.Digest
	PushedAt time.Time
}

// PolicyStore holds the per-project policies (tag immutability rules,
// quotas, retention) and answers the queries that enforce them. Projects
// are the first path component of a repository name (internal/policy).
type PolicyStore interface {
	// ImmutableRules lists a project's immutability rules by id.
	ImmutableRules(ctx context.Context, project string) ([]ImmutableRule, error)
	// AddImmutableRule stores a new rule and returns it with its id.
	AddImmutableRule(ctx context.Context, r ImmutableRule) (ImmutableRule, error)
	// UpdateImmutableRule changes a rule's patterns; ErrNotFound when the
	// project has no rule r.ID.
	UpdateImmutableRule(ctx context.Context, r ImmutableRule) error
	// DeleteImmutableRule removes a rule; ErrNotFound when there is none.
	DeleteImmutableRule(ctx context.Context, project string, id int64) error

	// Quota returns a project's quota, or ErrNotFound when it has none.
	Quota(ctx context.Context, project string) (Quota, error)
	// SetQuota creates or replaces a project's quota.
	SetQuota(ctx context.Context, q Quota) error
	// DeleteQuota removes a project's quota; ErrNotFound when it had none.
	DeleteQuota(ctx context.Context, project string) error
	// Quotas lists every quota, by project.
	Quotas(ctx context.Context) ([]Quota, error)
	// ProjectUsage computes what a project holds, by query over the
	// metadata (exact at the time of the query).
	ProjectUsage(ctx context.Context, project string) (Usage, error)
	// RepositoryUsage computes what one repository holds.
	RepositoryUsage(ctx context.Context, repo string) (Usage, error)
	// InProject reports whether a repository of the project holds (links or
	// references) the blob, or has the manifest, dgst.
	InProject(ctx context.Context, project string, dgst digest.Digest) (bool, error)
	// ProjectRepositories lists the project's repositories after last, in
	// lexical order, at most n (n < 0: all).
	ProjectRepositories(ctx context.Context, project, last string, n int) ([]string, error)

	// RetentionPolicy returns a project's retention policy, or ErrNotFound.
	RetentionPolicy(ctx context.Context, project string) (RetentionPolicy, error)
	// SetRetentionPolicy creates or replaces a project's retention policy.
	SetRetentionPolicy(ctx context.Context, p RetentionPolicy) error
	// DeleteRetentionPolicy removes it; ErrNotFound when there was none.
	DeleteRetentionPolicy(ctx context.Context, project string) error
	// RetentionPolicies lists every project's retention policy.
	RetentionPolicies(ctx context.Context) ([]RetentionPolicy, error)
	// AddRetentionRun records a finished run and returns its id; only the
	// newest runs of each project are kept.
	AddRetentionRun(ctx context.Context, r RetentionRun) (int64, error)
	// RetentionRuns lists a project's recorded runs, newest first, at most n.
	RetentionRuns(ctx context.Context, project string, n int) ([]RetentionRun, error)

	// TagDetails lists every tag of a repository with its manifest and
	// push time, by name.
	TagDetails(ctx context.Context, repo string) ([]TagDetail, error)
	// UntaggedManifests lists a repository's manifests that no tag points
	// at, no index of the repository lists, and that are not referrers of
	// a manifest still in the repository: the manifests nothing keeps.
	UntaggedManifests(ctx context.Context, repo string) ([]UntaggedManifest, error)
	// DeleteTagIf removes a tag only while it still points at dgst:
	// ErrConflict when it was moved meanwhile, ErrNotFound when it is gone.
	DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error
	// DeleteUntaggedManifest removes a manifest only while
	// UntaggedManifests would list it: ErrConflict when it was tagged or
	// referenced meanwhile, ErrNotFound when it is gone.
	DeleteUntaggedManifest(ctx context.Context, repo string, dgst digest.Digest) error

	// PutManifestGuarded is PutManifest where the tags in immutable may be
	// created, or re-pointed at the manifest they already point at, but not
	// moved from another manifest: then an *ImmutableTagError and nothing
	// changes. The check is part of the push's transaction.
	PutManifestGuarded(ctx context.Context, m *Manifest, tags, immutable []string) error
	// DeleteManifestChecked is DeleteManifest that first calls check, in
	// the deleting transaction, with the tags pointing at the manifest; an
	// error from check is returned and nothing changes. check must not use
	// the store.
	DeleteManifestChecked(ctx context.Context, repo string, dgst digest.Digest, check func(tags []string) error) error
}

// ProjectBounds returns the bounds of the repository names of a project
// other than the project itself: lo <= name < hi (project + "/" and
// project + "0", "0" being the byte after "/"). A repository is in project
// p when its name is p or falls in [lo, hi): two index range scans.
func ProjectBounds(project string) (lo, hi string) {
	return project + "/", project + "0"
}
