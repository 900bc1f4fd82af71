package meta

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// AdoptBatch is part of a repository found in another registry's storage
// (a Distribution layout adopted in place), recorded in one transaction.
type AdoptBatch struct {
	// Blobs the repository may read (their files must be stored).
	Blobs []Blob
	// Manifests in an order where an index comes after its children.
	Manifests []*Manifest
	// Tags to point at manifests the repository has (or that Manifests adds).
	Tags map[string]digest.Digest
}

// AdoptStore records adopted content in bulk: one transaction for many
// rows, where a push writes one (an import of 100,000 manifests would
// otherwise wait for 300,000 synced commits).
type AdoptStore interface {
	// Adopt records b in repo in one transaction, with PutBlob's and
	// PutManifest's rules (a blob row created anew needs its file; a
	// manifest needs its blobs and children in the repository, else a
	// *MissingError and nothing of b is recorded). What the repository
	// already has is kept; tags are moved.
	Adopt(ctx context.Context, repo string, b AdoptBatch) error
	// ManifestDigests lists the digests of every manifest of repo (none
	// for a repository that does not exist).
	ManifestDigests(ctx context.Context, repo string) ([]digest.Digest, error)
}
