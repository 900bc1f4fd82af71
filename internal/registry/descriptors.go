package registry

import (
	"fmt"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
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
