package replication

import (
	"context"
	"errors"
	"io"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Sentinel errors.
var (
	// ErrNotFound: the registry, rule, run, repository, manifest or blob does not exist.
	ErrNotFound = errors.New("replication: not found")
	// ErrInvalid: a registry or rule definition is not valid.
	ErrInvalid = errors.New("replication: invalid")
	// ErrUnsupported: the registry cannot do what was asked (deleting a
	// tag on Distribution 2.8, listing a catalog on Docker Hub).
	ErrUnsupported = errors.New("replication: unsupported by the registry")
	// ErrConflict: the run has ended already, or a name is in use.
	ErrConflict = errors.New("replication: conflict")
)

// Manifest is a manifest's exact bytes, with its media type and digest.
type Manifest struct {
	MediaType string
	Digest    digest.Digest
	Content   []byte
}

// Endpoint is one side of a copy: Berth itself (through its registry
// service) or a remote registry (over the Distribution API). Every method
// returns an error wrapping ErrNotFound when the thing is absent.
type Endpoint interface {
	// Repositories lists every repository (the catalog).
	Repositories(ctx context.Context) ([]string, error)
	// Tags lists a repository's tags; none for an unknown repository.
	Tags(ctx context.Context, repo string) ([]string, error)
	// Manifest fetches a manifest by tag or digest.
	Manifest(ctx context.Context, repo, ref string) (Manifest, error)
	// ManifestDigest resolves a tag or digest without fetching the body.
	ManifestDigest(ctx context.Context, repo, ref string) (digest.Digest, error)
	// PutManifest stores m under ref (a tag, or its digest). subject
	// reports that the registry indexed the manifest's subject itself (it
	// has the referrers API); when false, the caller maintains the
	// referrers tag scheme.
	PutManifest(ctx context.Context, repo, ref string, m Manifest) (subject bool, err error)
	// DeleteManifest deletes a tag, or a manifest by digest; ErrUnsupported
	// when the registry cannot delete a tag alone.
	DeleteManifest(ctx context.Context, repo, ref string) error
	// HasBlob tells whether the repository can read the blob.
	HasBlob(ctx context.Context, repo string, d digest.Digest) (bool, error)
	// OpenBlob streams a blob; the caller closes it.
	OpenBlob(ctx context.Context, repo string, d digest.Digest) (io.ReadCloser, int64, error)
	// PutBlob stores a blob of size bytes read from r (streamed, verified).
	PutBlob(ctx context.Context, repo string, d digest.Digest, size int64, r io.Reader) error
	// MountBlob links a blob that repository from has into repo without
	// copying; false when the registry did not mount it.
	MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error)
	// Referrers lists the manifests whose subject is d: through the OCI 1.1
	// referrers API, or the referrers tag scheme (sha256-<hex>) where the
	// registry has no such API.
	Referrers(ctx context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error)
}
