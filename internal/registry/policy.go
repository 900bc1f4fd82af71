package registry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// This file applies the project policies (internal/policy) to pushes and
// deletes: quotas before a push streams its bytes, tag immutability
// inside the manifest transaction. Without Options.Policy everything is
// allowed.

// admitUpload checks the quota of an upload that holds have bytes and
// receives length more (-1: not known), before any of the body is read.
// dgst is the blob's digest when known: a blob the project holds already
// adds nothing. A body of unknown length comes back limited to what the
// quota leaves: reading past it fails with a *policy.QuotaError.
func (s *Service) admitUpload(ctx context.Context, repo string, dgst digest.Digest, have, length int64, body io.Reader) (io.Reader, error) {
	p := s.opts.Policy
	if p == nil {
		return body, nil
	}
	a := policy.Addition{Repo: repo, Digest: dgst, Bytes: have}
	if length >= 0 {
		a.Bytes += length
	}
	b, err := p.Admit(ctx, a)
	if err != nil {
		return nil, err
	}
	if length < 0 && body != nil && b.Remaining() >= 0 {
		body = &quotaReader{r: body, left: b.Remaining() - have, have: have, budget: b}
	}
	return body, nil
}

// quotaReader passes through at most left bytes; one byte more is an
// error naming the quota.
type quotaReader struct {
	r      io.Reader
	left   int64
	have   int64 // bytes the upload held before this body
	read   int64
	budget policy.Budget
}

func (q *quotaReader) Read(p []byte) (int, error) {
	if q.left <= 0 {
		var one [1]byte
		n, err := q.r.Read(one[:])
		if n > 0 {
			return 0, q.budget.Exceeded(q.have + q.read)
		}
		return 0, err
	}
	if int64(len(p)) > q.left {
		p = p[:q.left]
	}
	n, err := q.r.Read(p)
	q.left -= int64(n)
	q.read += int64(n)
	return n, err
}

// quotaError returns the quota refusal err holds, or nil.
func quotaError(err error) *policy.QuotaError {
	var qe *policy.QuotaError
	if errors.As(err, &qe) {
		return qe
	}
	return nil
}

// admitManifest checks the quota for a manifest push.
func (s *Service) admitManifest(ctx context.Context, repo string, dgst digest.Digest, size int64) error {
	if s.opts.Policy == nil {
		return nil
	}
	_, err := s.opts.Policy.Admit(ctx, policy.Addition{Repo: repo, Digest: dgst, Bytes: size, Manifest: true})
	return err
}

// admitMount checks the quota for mounting a blob from another repository.
func (s *Service) admitMount(ctx context.Context, repo, from string, dgst digest.Digest) error {
	if s.opts.Policy == nil {
		return nil
	}
	b, err := s.meta.Blob(ctx, from, dgst)
	if err != nil {
		return blobErr(err, dgst)
	}
	_, err = s.opts.Policy.Admit(ctx, policy.Addition{Repo: repo, Digest: dgst, Bytes: b.Size})
	return err
}

// tagRules returns the immutability rules for repo (nil: none).
func (s *Service) tagRules(ctx context.Context, repo string) (*policy.TagRules, error) {
	if s.opts.Policy == nil {
		return nil, nil
	}
	return s.opts.Policy.TagRules(ctx, repo)
}

// putManifest stores a manifest, not moving its immutable tags.
func (s *Service) putManifest(ctx context.Context, m *meta.Manifest, tags []string, rules *policy.TagRules) error {
	immutable := rules.Immutable(tags)
	if len(immutable) == 0 {
		return s.meta.PutManifest(ctx, m, tags)
	}
	err := s.meta.PutManifestGuarded(ctx, m, tags, immutable)
	var ie *meta.ImmutableTagError
	if errors.As(err, &ie) {
		return rules.Check("overwritten", ie.Tag)
	}
	return err
}

// deleteManifest deletes a manifest by digest, refusing when an
// immutable tag points at it (checked in the deleting transaction).
func (s *Service) deleteManifest(ctx context.Context, repo string, d digest.Digest, rules *policy.TagRules) error {
	if rules.Empty() {
		return s.meta.DeleteManifest(ctx, repo, d)
	}
	return s.meta.DeleteManifestChecked(ctx, repo, d, func(tags []string) error {
		if err := rules.Check("deleted", tags...); err != nil {
			return fmt.Errorf("manifest %s: %w", d, err)
		}
		return nil
	})
}

// released tells the policy engine content of repo went away.
func (s *Service) released(repo string) {
	if s.opts.Policy != nil {
		s.opts.Policy.Released(repo)
	}
}

// DeleteTagIf removes a tag while it still points at dgst (for
// retention): meta.ErrConflict when it was moved, meta.ErrNotFound when
// it is gone. Immutability is the caller's to check.
func (s *Service) DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error {
	s.cache.forgetTags(repo)
	defer s.cache.forgetTags(repo)
	err := s.meta.DeleteTagIf(ctx, repo, tag, dgst)
	if err == nil {
		s.released(repo)
	}
	return err
}

// DeleteUntaggedManifest removes a manifest that no tag, index or living
// subject keeps (for retention): meta.ErrConflict when one does by now.
func (s *Service) DeleteUntaggedManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	s.cache.forgetManifest(repo, dgst)
	defer s.cache.forgetManifest(repo, dgst)
	err := s.meta.DeleteUntaggedManifest(ctx, repo, dgst)
	if err == nil {
		s.released(repo)
	}
	return err
}
