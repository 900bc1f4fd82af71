// Package meta defines the metadata store: repositories, blobs and which
// repositories may read them, manifests with their references (blobs, child
// manifests, subject), tags, and upload sessions. Implementations are SQL
// databases (sqlite now, postgres for scale-out); every one must pass the
// shared behavioural suite in metatest.
//
// Every method that changes more than one row does so in one transaction,
// so listings and garbage collection always see a consistent state.
package meta

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors.
var (
	// ErrNotFound: the named repository, blob, manifest, tag or upload does not exist.
	ErrNotFound = errors.New("meta: not found")
	// ErrReferenceUnknown: a manifest names a blob or child manifest the
	// repository does not have. Returned wrapped in *MissingError.
	ErrReferenceUnknown = errors.New("meta: manifest references unknown content")
	// ErrConflict: a concurrent change won (for example an upload written by
	// two requests at once).
	ErrConflict = errors.New("meta: conflict")
)

// MissingError names the first reference a manifest push lacked.
type MissingError struct {
	Digest digest.Digest
	Kind   string // "blob" or "manifest"
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s %s is not known in this repository", e.Kind, e.Digest)
}

// Unwrap makes errors.Is(err, ErrReferenceUnknown) true.
func (e *MissingError) Unwrap() error { return ErrReferenceUnknown }

// Blob is a verified, stored blob.
type Blob struct {
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
	// LinkedAt is when the repository's link to the blob was made or last
	// renewed (set by BlobOrManifest for a blob; zero otherwise). Garbage
	// collection may delete a link no manifest uses once it is older than
	// the grace period.
	LinkedAt time.Time
}

// Manifest is a stored manifest with what it references.
type Manifest struct {
	Repository   string
	Digest       digest.Digest
	MediaType    string
	ArtifactType string // the manifest's artifactType, or its config's media type for images
	Subject      digest.Digest
	Annotations  map[string]string
	Content      []byte // the exact bytes pushed
	Blobs        []digest.Digest
	Children     []digest.Digest // manifests an index lists
	// Sizes, when set on a push, are the sizes the manifest's descriptors
	// give its blobs and children: PutManifest compares them with the
	// stored ones in the same transaction (a *SizeError). Not loaded.
	Sizes     map[digest.Digest]int64
	CreatedAt time.Time
}

// Descriptor is the part of a stored manifest the referrers API returns.
type Descriptor struct {
	MediaType    string
	Digest       digest.Digest
	Size         int64
	ArtifactType string
	Annotations  map[string]string
}

// Upload is the state of a blob upload session. HashState is the marshalled
// state of the running hash over the first Size bytes, so any request (on
// any instance) can resume it.
type Upload struct {
	ID         string
	Repository string
	Algorithm  digest.Algorithm
	Size       int64
	HashState  []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Store is the metadata store.
type Store interface {
	AuthStore
	AuditStore
	AnomalyStore
	GCStore
	JobStore
	PolicyStore
	SessionStore
	BrowseStore
	Snapshotter
	EventStore
	AdoptStore
	OIDCStore
	NetworkRuleStore
	RateCountStore
	SigningStore
	ScanStore

	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// RepositoryExists reports whether the repository has any content.
	RepositoryExists(ctx context.Context, repo string) (bool, error)
	// Repositories lists repository names after last, in lexical order, at most n.
	Repositories(ctx context.Context, last string, n int) ([]string, error)

	// Blob returns a stored blob if the repository may read it (it was pushed
	// or mounted there), or ErrNotFound.
	Blob(ctx context.Context, repo string, dgst digest.Digest) (Blob, error)
	// BlobOrManifest is what the blob endpoints find for dgst in repo, in
	// one query: a blob the repository may read or else one of its
	// manifests (manifest true; Size is its length), or ErrNotFound.
	BlobOrManifest(ctx context.Context, repo string, dgst digest.Digest) (b Blob, manifest bool, err error)
	// RenewBlobLink sets the repository's link to the blob as made at now,
	// so garbage collection counts its grace period from there, or returns
	// ErrNotFound if there is no such link (any more).
	RenewBlobLink(ctx context.Context, repo string, dgst digest.Digest, now time.Time) error
	// AnyBlob returns a stored blob whatever repository holds it (for
	// deduplication), or ErrNotFound.
	AnyBlob(ctx context.Context, dgst digest.Digest) (Blob, error)
	// BlobUnder returns a stored blob that some repository named
	// prefix/... may read (a pull-through cache shares its blobs across the
	// repositories of its project, never with other projects), or
	// ErrNotFound.
	BlobUnder(ctx context.Context, prefix string, dgst digest.Digest) (Blob, error)
	// PutBlob records a verified blob and links it to repo, creating the
	// repository if needed. Recording an existing blob only adds the link.
	PutBlob(ctx context.Context, repo string, b Blob) error
	// MountBlob links a blob that repository from may read into repo.
	// ErrNotFound when from cannot read it.
	MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (Blob, error)
	// UnlinkBlob removes repo's link to a blob; the bytes stay until GC.
	UnlinkBlob(ctx context.Context, repo string, dgst digest.Digest) error
	// BlobStats counts stored blobs and their bytes (for metrics).
	BlobStats(ctx context.Context) (count, bytes int64, err error)

	// PutManifest stores a manifest and points tags at it, in one
	// transaction. Every blob and child it references must be in the
	// repository (else a *MissingError and nothing changes), of the size
	// m.Sizes gives it if any (else a *SizeError).
	PutManifest(ctx context.Context, m *Manifest, tags []string) error
	// Manifest returns a manifest of repo by digest.
	Manifest(ctx context.Context, repo string, dgst digest.Digest) (*Manifest, error)
	// ResolveTag returns the digest a tag points at.
	ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error)
	// DeleteManifest removes a manifest and every tag pointing at it.
	DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error
	// DeleteTag removes a tag; the manifest stays.
	DeleteTag(ctx context.Context, repo, tag string) error
	// Tags lists repo's tags after last, in lexical order, at most n.
	// ErrNotFound when the repository does not exist.
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	// Referrers lists the manifests of repo whose subject is dgst, filtered by
	// artifactType when it is not empty, ordered by digest.
	Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]Descriptor, error)

	// CreateUpload records a new upload session. Session bookkeeping
	// (CreateUpload, UpdateUpload) need not be durable: a session lost in a
	// crash is restarted by the client, which gets BLOB_UPLOAD_UNKNOWN.
	CreateUpload(ctx context.Context, u Upload) error
	// Upload returns an upload session of repo.
	Upload(ctx context.Context, repo, id string) (Upload, error)
	// UpdateUpload saves an upload's size and hash state, but only if its
	// size is still prevSize (else ErrConflict).
	UpdateUpload(ctx context.Context, u Upload, prevSize int64) error
	// AcquireUpload takes or renews the lease on an upload session for
	// owner, valid for ttl from now, and returns the session. A lease is
	// granted when it is free, expired, or already owner's; while another
	// owner holds it, ErrConflict; for an unknown session, ErrNotFound.
	// Instances lease a session while they write it, so two never write
	// the same session at once. Like the other session bookkeeping, leases
	// need not be durable.
	AcquireUpload(ctx context.Context, repo, id, owner string, ttl time.Duration) (Upload, error)
	// ReleaseUpload gives up owner's lease on an upload session. It does
	// nothing when owner does not hold the lease or the session is gone.
	ReleaseUpload(ctx context.Context, repo, id, owner string) error
	// DeleteUpload removes an upload session.
	DeleteUpload(ctx context.Context, repo, id string) error
	// CompleteUpload records the verified blob, links it to the upload's
	// repository and removes the session, in one transaction.
	CompleteUpload(ctx context.Context, u Upload, b Blob) error

	ProxyStore
	ReplicationStore
}
