package postgres

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
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
	// Blobs in digest order: two batches sharing blobs lock their rows in
	// the same order.
	blobs := slices.SortedFunc(slices.Values(b.Blobs), func(x, y meta.Blob) int { return strings.Compare(string(x.Digest), string(y.Digest)) })
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := ensureRepo(ctx, tx, repo); err != nil {
			return err
		}
		for _, bl := range blobs {
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
			d := b.Tags[tag]
			var one int
			err := tx.QueryRow(ctx, `SELECT 1 FROM manifests m JOIN repositories r ON r.id = m.repository_id
				WHERE r.name = $1 AND m.digest = $2`, repo, d.String()).Scan(&one)
			if errors.Is(err, pgx.ErrNoRows) {
				return &meta.MissingError{Digest: d, Kind: "manifest"}
			} else if err != nil {
				return err
			}
			if err := putManifestTx(ctx, tx, &meta.Manifest{Repository: repo, Digest: d}, "", []string{tag}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// ManifestDigests implements meta.AdoptStore.
func (s *Store) ManifestDigests(ctx context.Context, repo string) ([]digest.Digest, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 ORDER BY m.digest`, repo)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]digest.Digest, len(names))
	for i, n := range names {
		out[i] = digest.Digest(n)
	}
	return out, nil
}
