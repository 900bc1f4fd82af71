package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
)

// MaxTagsPerPush bounds the ?tag= parameters of one manifest push (each
// is answered with an OCI-Tag header).
const MaxTagsPerPush = 32

// sizes are the sizes a manifest's descriptors give the blobs and child
// manifests they reference.
type sizes map[digest.Digest]int64

// check validates a descriptor and records its size; two descriptors of
// one digest must agree on it.
func (sz sizes) check(d v1.Descriptor, where string) error {
	if err := checkDescriptor(d, where); err != nil {
		return err
	}
	if prev, ok := sz[d.Digest]; ok && prev != d.Size {
		return fmt.Errorf("%w: %s: size %d, but another descriptor of %s says %d", ErrManifestInvalid, where, d.Size, d.Digest, prev)
	}
	sz[d.Digest] = d.Size
	return nil
}

// checkSizes refuses a manifest whose descriptors give a size other than
// that of the stored blob or child manifest (clients trust the descriptor
// to size their downloads: a size of 2^63-1 was accepted). Content the
// repository lacks is left to the push's transaction, which reports it as
// MANIFEST_BLOB_UNKNOWN.
func (s *Service) checkSizes(ctx context.Context, repo string, sz sizes) error {
	for d, want := range sz {
		b, manifest, err := s.meta.BlobOrManifest(ctx, repo, d)
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if b.Size != want {
			kind := "blob"
			if manifest {
				kind = "manifest"
			}
			return fmt.Errorf("%w: the descriptor of %s %s gives size %d; it has %d bytes", ErrManifestInvalid, kind, d, want, b.Size)
		}
	}
	return nil
}
