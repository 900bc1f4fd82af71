package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrRetry: the request collided with garbage collection deleting the
// same blob; the client should push it again (503, which clients retry).
var ErrRetry = errors.New("blob was being garbage collected; push it again")

// DeleteRepository deletes a repository: its tags, manifests, blob links
// and upload sessions (with their bytes). Blob bytes no other repository
// links are reclaimed by garbage collection.
func (s *Service) DeleteRepository(ctx context.Context, repo string) error {
	if !s.opts.DeleteEnabled {
		return fmt.Errorf("%w: deletion is disabled", ErrUnsupported)
	}
	if err := s.checkRepositoryDeletable(ctx, repo); err != nil {
		return err
	}
	pending := s.pending.dropRepo(repo)
	ids, err := s.meta.DeleteRepository(ctx, repo)
	s.ForgetRepository(repo)
	if errors.Is(err, meta.ErrNotFound) && len(pending) == 0 {
		return fmt.Errorf("%w: %s", ErrNameUnknown, repo)
	}
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err
	}
	for _, id := range append(ids, pending...) {
		if err := s.blobs.DeleteUpload(ctx, id); err != nil {
			// Left for the upload purge of garbage collection.
			s.log.WarnContext(ctx, "delete repository: upload bytes", "repo", repo, "upload", id, "error", err)
		}
		s.forgetUpload(id)
	}
	return nil
}

// checkRepositoryDeletable refuses to delete a repository holding a tag
// that an immutability rule protects from deletion (DENIED, naming the
// rule), as deleting the tag itself is refused.
func (s *Service) checkRepositoryDeletable(ctx context.Context, repo string) error {
	rules, err := s.tagRules(ctx, repo)
	if err != nil || rules.Empty() {
		return err
	}
	last := ""
	for {
		tags, err := s.meta.Tags(ctx, repo, last, 1000)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := rules.Check("deleted", tags...); err != nil {
			return fmt.Errorf("repository %s: %w", repo, err)
		}
		if len(tags) < 1000 {
			return nil
		}
		last = tags[len(tags)-1]
	}
}

// ForgetManifest drops a manifest deleted behind the service's back
// (by garbage collection) from the cache.
func (s *Service) ForgetManifest(repo string, d digest.Digest) {
	s.cache.forgetManifest(repo, d)
}

// ForgetRepository drops everything cached about a repository.
func (s *Service) ForgetRepository(repo string) {
	c := s.cache
	if c == nil {
		return
	}
	c.forgetTags(repo)
	c.mu.Lock()
	defer c.mu.Unlock()
	prefix := repo + "@"
	for key, e := range c.manifests {
		if strings.HasPrefix(key, prefix) {
			c.removeLocked(e)
		}
	}
}
