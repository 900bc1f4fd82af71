package meta

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrBlobDeleting: garbage collection is deleting the blob's bytes right
// now, so it cannot be recorded or linked; the client retries the push.
var ErrBlobDeleting = errors.New("meta: blob is being garbage collected")

// BlobCheck returns an error when blob d's file is not stored.
type BlobCheck func(ctx context.Context, d digest.Digest) error

// ManifestRef names a stored manifest for garbage collection.
type ManifestRef struct {
	ID         int64
	Repository string
	Digest     digest.Digest
	Size       int64
}

// BlobLink is a repository's link to a blob (repository_blobs).
type BlobLink struct {
	RepositoryID int64
	Repository   string
	Digest       digest.Digest
}

// GCPolicy is what garbage collection may delete: content created before
// Before (now minus the grace period) and not referenced.
type GCPolicy struct {
	Before time.Time
	// OrphanReferrers: manifests with a subject that is gone from their
	// repository are collectable (when untagged and unlisted).
	OrphanReferrers bool
}

// GCStore is what online garbage collection, upload purging, scrubbing and
// repository deletion need of the metadata store.
//
// Every Delete/Mark method re-checks, inside its transaction and after
// locking the rows, that what it deletes is still collectable, so it is
// safe against pushes, mounts and tag moves running concurrently on any
// instance: a push either commits first (and the row is kept) or finds the
// row gone (and fails with MANIFEST_BLOB_UNKNOWN, or ErrBlobDeleting).
//
// Blob bytes are deleted in three steps: MarkBlobsDeleting (or
// MarkOrphanBlobs for a file without a row) turns the rows into
// tombstones that no push can link or re-create, the caller deletes the
// files, then ForgetBlobs removes the tombstones. A crash in between
// leaves tombstones that DeletingBlobs lists for the next run. Pushes that
// create a blob row check, inside their transaction, that the file is
// stored (see SetBlobCheck), so a file deleted just before its row was
// re-created is never recorded as present.
type GCStore interface {
	// SetBlobCheck installs the function a push calls, inside its
	// transaction, when it creates a blob row anew: it must return an
	// error when the blob's file is not stored. Nil checks nothing.
	SetBlobCheck(fn BlobCheck)

	// GCManifests lists collectable manifests with id > after, by id, at
	// most n: created before p.Before, no tag, no index of their
	// repository lists them, and no subject, or (with p.OrphanReferrers)
	// a subject the repository no longer has.
	GCManifests(ctx context.Context, p GCPolicy, after int64, n int) ([]ManifestRef, error)
	// DeleteGCManifests deletes those of ms still collectable, and returns them.
	DeleteGCManifests(ctx context.Context, p GCPolicy, ms []ManifestRef) ([]ManifestRef, error)

	// GCLinks lists repository-blob links created before p.Before that no
	// manifest of the repository references, after the cursor (repository
	// id, digest), at most n.
	GCLinks(ctx context.Context, p GCPolicy, after BlobLink, n int) ([]BlobLink, error)
	// DeleteGCLinks deletes those links still unreferenced, and returns them.
	DeleteGCLinks(ctx context.Context, p GCPolicy, links []BlobLink) ([]BlobLink, error)

	// GCBlobs lists blobs created before p.Before that no repository links,
	// with digest > after, by digest, at most n.
	GCBlobs(ctx context.Context, p GCPolicy, after digest.Digest, n int) ([]Blob, error)
	// MarkBlobsDeleting turns those of ds still collectable into
	// tombstones, and returns them.
	MarkBlobsDeleting(ctx context.Context, p GCPolicy, ds []digest.Digest) ([]Blob, error)
	// MarkOrphanBlobs records a tombstone for each of the stored files
	// given (digest and size) that has no blob row, and returns those.
	MarkOrphanBlobs(ctx context.Context, files []Blob) ([]Blob, error)
	// DeletingBlobs lists tombstones with digest > after, at most n.
	DeletingBlobs(ctx context.Context, after digest.Digest, n int) ([]Blob, error)
	// ForgetBlobs removes the tombstones of ds once their files are deleted.
	ForgetBlobs(ctx context.Context, ds []digest.Digest) error
	// KnownBlobs returns which of ds have a blob row (tombstones included).
	KnownBlobs(ctx context.Context, ds []digest.Digest) (map[digest.Digest]bool, error)
	// Blobs lists blob rows (not tombstones) with digest > after, by digest,
	// at most n (for scrubbing).
	Blobs(ctx context.Context, after digest.Digest, n int) ([]Blob, error)
	// DropBlobs removes ds's rows and every repository's link to them,
	// whatever references them (scrub repair of lost or corrupt content),
	// and returns the manifests (repository and digest) that reference them.
	DropBlobs(ctx context.Context, ds []digest.Digest) ([]ManifestRef, error)

	// StaleUploads lists upload sessions last written before before whose
	// lease has expired, with id > after, by id, at most n.
	StaleUploads(ctx context.Context, before time.Time, after string, n int) ([]Upload, error)
	// DeleteStaleUpload deletes a session if it is still stale; false when
	// it was written or leased meanwhile, or is gone.
	DeleteStaleUpload(ctx context.Context, id string, before time.Time) (bool, error)
	// KnownUploads returns which of ids have a session row.
	KnownUploads(ctx context.Context, ids []string) (map[string]bool, error)

	// DeleteRepository removes a repository with its tags, manifests,
	// blob links and upload sessions, and returns the ids of the sessions
	// removed (their bytes are the caller's to delete). ErrNotFound when
	// it has neither rows nor sessions. allow, when not nil, is called
	// inside the deleting transaction with the repository's tags (in
	// batches, in order; from the first again if the transaction is
	// retried); an error from it aborts the delete and is returned as it is.
	DeleteRepository(ctx context.Context, name string, allow func(tags []string) error) ([]string, error)
}
