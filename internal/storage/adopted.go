package storage

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Blobs adopted in place from CNCF Distribution (registry:2). Distribution
// keeps each blob's bytes at
//
//	docker/registry/v2/blobs/<algorithm>/<first two hex chars>/<hex>/data
//
// below its root directory (filesystem) or prefix (s3). When adoption is
// on, a blob that is not in Berth's own layout is looked up there. Berth
// never writes, moves or deletes under docker/registry/v2: Distribution
// can serve its directory again at any time (rollback), and no byte is
// copied. Garbage collection deletes Berth's own blob files only; an
// adopted blob it collects loses its metadata row (no repository can read
// it any more) while its file stays for Distribution.

// DistributionBlobPath is where Distribution keeps blob dgst's bytes,
// relative to its root.
func DistributionBlobPath(dgst digest.Digest) string {
	enc := dgst.Encoded()
	return DistributionRoot + "/blobs/" + string(dgst.Algorithm()) + "/" + enc[:2] + "/" + enc + "/data"
}

// DistributionRoot is the directory below Distribution's root directory
// that holds its whole layout.
const DistributionRoot = "docker/registry/v2"

// Adopt makes b also read blobs from Distribution's layout on d (a driver
// rooted at Distribution's root directory or prefix).
func (b *Blobs) Adopt(d Driver) { b.adopted = d }

// Adopted returns the driver of the adopted Distribution storage, or nil.
func (b *Blobs) Adopted() Driver { return b.adopted }

// open reads blob dgst from Berth's layout, else from the adopted one.
func (b *Blobs) open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error) {
	rc, err := b.d.Reader(ctx, BlobPath(dgst), offset)
	if b.adopted != nil && errors.Is(err, ErrNotFound) {
		return b.adopted.Reader(ctx, DistributionBlobPath(dgst), offset)
	}
	return rc, err
}

// stat describes blob dgst in Berth's layout, else in the adopted one.
func (b *Blobs) stat(ctx context.Context, dgst digest.Digest) (FileInfo, error) {
	fi, err := b.d.Stat(ctx, BlobPath(dgst))
	if b.adopted != nil && errors.Is(err, ErrNotFound) {
		return b.adopted.Stat(ctx, DistributionBlobPath(dgst))
	}
	return fi, err
}

// redirectURL presigns blob dgst where it is stored. Presigning does not
// look at the object, so with adoption on the own layout is checked first.
func (b *Blobs) redirectURL(ctx context.Context, dgst digest.Digest, expires time.Duration) (string, error) {
	if b.adopted != nil {
		if _, err := b.d.Stat(ctx, BlobPath(dgst)); errors.Is(err, ErrNotFound) {
			r, ok := b.adopted.(Redirector)
			if !ok {
				return "", errors.ErrUnsupported
			}
			return r.RedirectURL(ctx, DistributionBlobPath(dgst), expires)
		} else if err != nil {
			return "", err
		}
	}
	r, ok := b.d.(Redirector)
	if !ok {
		return "", errors.ErrUnsupported
	}
	return r.RedirectURL(ctx, BlobPath(dgst), expires)
}

// Lister is an optional Driver capability: the names directly below a
// directory (files and directories alike, without the prefix), so that a
// large tree can be walked in parallel, one Walk per entry. On S3 it is a
// listing with a "/" delimiter; each Walk is then a flat key listing.
type Lister interface {
	// List returns the names below prefix, sorted; ErrNotFound when there
	// are none.
	List(ctx context.Context, prefix string) ([]string, error)
}
