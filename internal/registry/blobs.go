package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/storage"
)

// StatBlob returns a blob the repository may read. Manifests are blobs too
// (as Docker's registry serves them), so a manifest of the repository is
// found by its digest as well.
func (s *Service) StatBlob(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, error) {
	r, proxied := s.proxyRoute(ctx, repo)
	if proxied {
		repo = r.Repo
	}
	b, manifest, err := s.meta.BlobOrManifest(ctx, repo, dgst)
	if err == nil && !manifest && s.opts.LinkRenewAfter > 0 {
		if now := time.Now(); now.Sub(b.LinkedAt) > s.opts.LinkRenewAfter {
			// If GC deleted the link since the read, the blob is unknown
			// here after all and the client uploads it again. Another
			// failure leaves the answer as it was read (the window is
			// back, a HEAD does not fail for it).
			if rerr := s.meta.RenewBlobLink(ctx, repo, dgst, now); errors.Is(rerr, meta.ErrNotFound) {
				err = rerr
			} else if rerr != nil {
				s.log.WarnContext(ctx, "renewing a blob link", "repo", repo, "digest", dgst.String(), "error", rerr)
			}
		}
	}
	err = blobErr(err, dgst)
	if proxied && errors.Is(err, ErrBlobUnknown) {
		return s.opts.Upstream.StatBlob(ctx, r, dgst)
	}
	return b, err
}

// BlobContent is an open blob: its metadata and either a reader (an
// *os.File on the filesystem driver) or a URL to redirect the client to.
type BlobContent struct {
	meta.Blob
	io.ReadCloser
	RedirectURL string
}

// OpenBlob opens a blob the repository may read. A proxied repository's
// blob that is not cached yet comes from its upstream.
func (s *Service) OpenBlob(ctx context.Context, repo string, dgst digest.Digest) (*BlobContent, error) {
	r, proxied := s.proxyRoute(ctx, repo)
	if !proxied {
		return s.openBlob(ctx, repo, dgst)
	}
	c, err := s.openBlob(ctx, r.Repo, dgst)
	if errors.Is(err, ErrBlobUnknown) {
		return s.opts.Upstream.FetchBlob(ctx, r, dgst)
	}
	if err == nil {
		s.opts.Upstream.BlobHit(r)
	}
	return c, err
}

func (s *Service) openBlob(ctx context.Context, repo string, dgst digest.Digest) (*BlobContent, error) {
	b, err := s.meta.Blob(ctx, repo, dgst)
	if errors.Is(err, meta.ErrNotFound) {
		b, content, err := s.manifestAsBlob(ctx, repo, dgst)
		if err != nil {
			return nil, err
		}
		return &BlobContent{Blob: b, ReadCloser: io.NopCloser(bytes.NewReader(content))}, nil
	}
	if err != nil {
		return nil, err
	}
	if s.opts.RedirectExpiry > 0 {
		if url, ok := s.blobs.RedirectURL(ctx, dgst, s.opts.RedirectExpiry); ok {
			return &BlobContent{Blob: b, ReadCloser: io.NopCloser(nil), RedirectURL: url}, nil
		}
	}
	rc, err := s.blobs.Open(ctx, dgst, 0)
	if errors.Is(err, storage.ErrNotFound) {
		// The metadata says it exists but the bytes are gone: report it
		// loudly, answer as unknown.
		s.log.ErrorContext(ctx, "blob missing from storage", "repo", repo, "digest", dgst.String())
		return nil, fmt.Errorf("%w: %s", ErrBlobUnknown, dgst)
	}
	if err != nil {
		return nil, err
	}
	return &BlobContent{Blob: b, ReadCloser: rc}, nil
}

// manifestAsBlob finds a manifest of the repository by digest, for the
// blob endpoints.
func (s *Service) manifestAsBlob(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, []byte, error) {
	m, err := s.meta.Manifest(ctx, repo, dgst)
	if err != nil {
		return meta.Blob{}, nil, blobErr(err, dgst)
	}
	return meta.Blob{Digest: dgst, Size: int64(len(m.Content)), CreatedAt: m.CreatedAt}, m.Content, nil
}

// DeleteBlob removes the repository's link to a blob. The bytes are
// reclaimed by garbage collection once nothing links them.
func (s *Service) DeleteBlob(ctx context.Context, repo string, dgst digest.Digest) error {
	if !s.opts.DeleteEnabled {
		return fmt.Errorf("%w: deletion is disabled", ErrUnsupported)
	}
	err := s.meta.UnlinkBlob(ctx, repo, dgst)
	if err == nil {
		s.released(repo)
	}
	return blobErr(err, dgst)
}

// MountBlob links a blob that repository from may read into repo. It returns
// ErrBlobUnknown when from cannot read it, so the caller can fall back to a
// normal upload.
func (s *Service) MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (meta.Blob, error) {
	if err := s.checkWritable(repo); err != nil {
		return meta.Blob{}, err
	}
	if err := s.admitMount(ctx, repo, from, dgst); err != nil {
		return meta.Blob{}, err
	}
	b, err := s.meta.MountBlob(ctx, repo, from, dgst)
	if errors.Is(err, meta.ErrBlobDeleting) {
		// Being garbage collected: the client uploads it instead.
		return meta.Blob{}, fmt.Errorf("%w: %s", ErrBlobUnknown, dgst)
	}
	return b, blobErr(err, dgst)
}

// blobErr maps a not-found from the stores to ErrBlobUnknown.
func blobErr(err error, dgst digest.Digest) error {
	if errors.Is(err, meta.ErrNotFound) || errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrBlobUnknown, dgst)
	}
	return err
}
