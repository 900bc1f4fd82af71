package registry

import (
	"context"
	"errors"
	"fmt"

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
	allow, err := s.repositoryDeletable(ctx, repo)
	if err != nil {
		return err
	}
	ids, err := s.meta.DeleteRepository(ctx, repo, allow)
	if err != nil && !errors.Is(err, meta.ErrNotFound) {
		return err // refused or failed: in-memory sessions stay too
	}
	// A session moving to the store right now (its first chunk) is
	// either gone with the rows or dropped here; one that got in between
	// goes on as if started after the delete.
	pending := s.pending.dropRepo(repo)
	s.ForgetRepository(repo)
	if err != nil && len(pending) == 0 {
		return fmt.Errorf("%w: %s", ErrNameUnknown, repo)
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

// repositoryDeletable returns the check, run by the store inside the
// deleting transaction, that refuses to delete a repository holding a tag
// an immutability rule protects from deletion (DENIED, naming the rule),
// as deleting the tag itself is refused; nil when no rule applies.
func (s *Service) repositoryDeletable(ctx context.Context, repo string) (func([]string) error, error) {
	rules, err := s.tagRules(ctx, repo)
	if err != nil || rules.Empty() {
		return nil, err
	}
	return func(tags []string) error {
		if err := rules.Check("deleted", tags...); err != nil {
			return fmt.Errorf("repository %s: %w", repo, err)
		}
		return nil
	}, nil
}

// ForgetManifest drops a manifest deleted behind the service's back
// (by garbage collection) from the cache.
func (s *Service) ForgetManifest(repo string, d digest.Digest) {
	s.cache.forgetManifest(repo, d)
}

// ForgetRepository drops everything cached about a repository.
func (s *Service) ForgetRepository(repo string) { s.cache.forgetRepository(repo) }
