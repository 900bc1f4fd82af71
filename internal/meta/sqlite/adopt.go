package sqlite

import (
	"context"
	"maps"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Adopt implements meta.AdoptStore.
func (s *Store) Adopt(ctx context.Context, repo string, b meta.AdoptBatch) error {
	annotations := make([]string, len(b.Manifests))
	for i, m := range b.Manifests {
		a, err := meta.EncodeAnnotations(m.Annotations)
		if err != nil {
			return err
		}
		annotations[i] = a
	}
	return s.tx(ctx, func(tx wtx) error {
		if _, err := ensureRepo(ctx, tx, repo); err != nil {
			return err
		}
		for _, bl := range b.Blobs {
			if err := s.putBlob(ctx, tx, repo, bl); err != nil {
				return err
			}
		}
		for i, m := range b.Manifests {
			if err := putManifestTx(ctx, tx, m, annotations[i], nil, nil); err != nil {
				return err
			}
		}
		for _, tag := range slices.Sorted(maps.Keys(b.Tags)) {
			m := &meta.Manifest{Repository: repo, Digest: b.Tags[tag]}
			if _, err := manifestID(ctx, tx, repo, m.Digest); err != nil {
				return &meta.MissingError{Digest: m.Digest, Kind: "manifest"}
			}
			if err := putManifestTx(ctx, tx, m, "", []string{tag}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// manifestID is the id of repo's manifest d.
func manifestID(ctx context.Context, tx wtx, repo string, d digest.Digest) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.digest = ?`, repo, d.String()).Scan(&id)
	return id, err
}

// ManifestDigests implements meta.AdoptStore.
func (s *Store) ManifestDigests(ctx context.Context, repo string) ([]digest.Digest, error) {
	names, err := scanStrings(s.readRows(ctx, `SELECT m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? ORDER BY m.digest`, repo))
	if err != nil {
		return nil, err
	}
	out := make([]digest.Digest, len(names))
	for i, n := range names {
		out[i] = digest.Digest(n)
	}
	return out, nil
}
