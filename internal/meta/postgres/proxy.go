package postgres

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// PutCachedManifest implements meta.ProxyStore.
func (s *Store) PutCachedManifest(ctx context.Context, m *meta.Manifest, tags []string, at time.Time) error {
	annotations, err := meta.EncodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	tags = slices.Compact(slices.Sorted(slices.Values(tags))) // see PutManifest
	t := at.UnixNano()
	return s.tx(ctx, func(tx pgx.Tx) error {
		repoID, err := ensureRepo(ctx, tx, m.Repository)
		if err != nil {
			return err
		}
		id, err := insertManifest(ctx, tx, repoID, m, annotations)
		if err != nil {
			return err
		}
		if len(tags) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO tags (repository_id, name, manifest_id, updated_at)
				SELECT $1, name, $3, $4 FROM unnest($2::text[]) AS name
				ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
				repoID, tags, id, t); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO proxy_tags (repository_id, name, checked_at)
				SELECT $1, name, $3 FROM unnest($2::text[]) AS name
				ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = excluded.checked_at`,
				repoID, tags, t); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO proxy_manifests (manifest_id, pulled_at) VALUES ($1, $2)
			ON CONFLICT (manifest_id) DO UPDATE SET pulled_at = excluded.pulled_at`, id, t)
		return err
	})
}

// CachedTag implements meta.ProxyStore.
func (s *Store) CachedTag(ctx context.Context, repo, tag string) (digest.Digest, time.Time, error) {
	var d string
	var checked int64
	err := s.pool.QueryRow(ctx, `SELECT m.digest, COALESCE(pt.checked_at, 0) FROM tags t
		JOIN repositories r ON r.id = t.repository_id
		JOIN manifests m ON m.id = t.manifest_id
		LEFT JOIN proxy_tags pt ON pt.repository_id = t.repository_id AND pt.name = t.name
		WHERE r.name = $1 AND t.name = $2`, repo, tag).Scan(&d, &checked)
	if err != nil {
		return "", time.Time{}, notFound(err, "tag "+tag)
	}
	var at time.Time
	if checked != 0 {
		at = fromNanos(checked)
	}
	return digest.Digest(d), at, nil
}

// MarkTagChecked implements meta.ProxyStore.
func (s *Store) MarkTagChecked(ctx context.Context, repo, tag string, t time.Time) error {
	res, err := s.pool.Exec(ctx, `INSERT INTO proxy_tags (repository_id, name, checked_at)
		SELECT t.repository_id, t.name, $1 FROM tags t JOIN repositories r ON r.id = t.repository_id
		WHERE r.name = $2 AND t.name = $3
		ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = excluded.checked_at`, t.UnixNano(), repo, tag)
	return changedOne(res, err, "tag "+tag)
}

// MarkPulled implements meta.ProxyStore.
func (s *Store) MarkPulled(ctx context.Context, repo string, dgst digest.Digest, t time.Time) error {
	res, err := s.pool.Exec(ctx, `INSERT INTO proxy_manifests (manifest_id, pulled_at)
		SELECT m.id, $1 FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $2 AND m.digest = $3
		ON CONFLICT (manifest_id) DO UPDATE SET pulled_at = excluded.pulled_at`, t.UnixNano(), repo, dgst.String())
	return changedOne(res, err, "manifest "+dgst.String())
}

// prefixRange is the range of repository names under prefix + "/": "0" is
// the byte after "/" (names compare bytewise, COLLATE "C").
func prefixRange(prefix string) (string, string) { return prefix + "/", prefix + "0" }

// CacheUsage implements meta.ProxyStore.
func (s *Store) CacheUsage(ctx context.Context, prefix string) (int64, error) {
	lo, hi := prefixRange(prefix)
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT
		COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN (
			SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
			WHERE r.name >= $1 AND r.name < $2)), 0)::BIGINT +
		COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id
			WHERE r.name >= $1 AND r.name < $2), 0)::BIGINT`, lo, hi).Scan(&n)
	return n, err
}

// LeastRecentlyPulled implements meta.ProxyStore.
func (s *Store) LeastRecentlyPulled(ctx context.Context, prefix string, before time.Time, n int) ([]meta.CachedManifest, error) {
	lo, hi := prefixRange(prefix)
	rows, err := s.pool.Query(ctx, `SELECT r.name, m.digest, COALESCE(pm.pulled_at, m.created_at) AS p
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		LEFT JOIN proxy_manifests pm ON pm.manifest_id = m.id
		WHERE r.name >= $1 AND r.name < $2 AND COALESCE(pm.pulled_at, m.created_at) < $3
		ORDER BY p, m.id LIMIT $4`, lo, hi, before.UnixNano(), limit(n))
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.CachedManifest{}, rows, func(row pgx.CollectableRow) (meta.CachedManifest, error) {
		var c meta.CachedManifest
		var d string
		var p int64
		err := row.Scan(&c.Repository, &d, &p)
		c.Digest, c.PulledAt = digest.Digest(d), fromNanos(p)
		return c, err
	})
}

// EvictManifest implements meta.ProxyStore.
func (s *Store) EvictManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var repoID int64
		if err := tx.QueryRow(ctx, `SELECT id FROM repositories WHERE name = $1`, repo).Scan(&repoID); err != nil {
			return notFound(err, "repository "+repo)
		}
		// Tags, references and bookkeeping go with it (ON DELETE CASCADE).
		res, err := tx.Exec(ctx, `DELETE FROM manifests WHERE repository_id = $1 AND digest = $2`, repoID, dgst.String())
		if err := changedOne(res, err, "manifest "+dgst.String()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM repository_blobs rb WHERE rb.repository_id = $1
			AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
				WHERE m.repository_id = $1 AND mb.digest = rb.digest)`, repoID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM repositories WHERE id = $1
			AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = $1)
			AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = $1)`, repoID)
		return err
	})
}
