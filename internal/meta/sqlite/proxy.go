package sqlite

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// PutCachedManifest implements meta.ProxyStore.
func (s *Store) PutCachedManifest(ctx context.Context, m *meta.Manifest, tags []string, at time.Time) error {
	annotations, err := meta.EncodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	t := at.UnixNano()
	return s.tx(ctx, func(tx wtx) error {
		repoID, err := ensureRepo(ctx, tx, m.Repository)
		if err != nil {
			return err
		}
		id, err := insertManifest(ctx, tx, repoID, m, annotations, t)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
				repoID, tag, id, t); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO proxy_tags (repository_id, name, checked_at) VALUES (?, ?, ?)
				ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = excluded.checked_at`, repoID, tag, t); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO proxy_manifests (manifest_id, pulled_at) VALUES (?, ?)
			ON CONFLICT (manifest_id) DO UPDATE SET pulled_at = excluded.pulled_at`, id, t)
		return err
	})
}

// CachedTag implements meta.ProxyStore.
func (s *Store) CachedTag(ctx context.Context, repo, tag string) (digest.Digest, time.Time, error) {
	var d string
	var checked int64
	err := s.readRow(ctx, `SELECT m.digest, COALESCE(pt.checked_at, 0) FROM tags t
		JOIN repositories r ON r.id = t.repository_id
		JOIN manifests m ON m.id = t.manifest_id
		LEFT JOIN proxy_tags pt ON pt.repository_id = t.repository_id AND pt.name = t.name
		WHERE r.name = ? AND t.name = ?`, repo, tag).Scan(&d, &checked)
	if err != nil {
		return "", time.Time{}, notFound(err, "tag "+tag)
	}
	var at time.Time
	if checked != 0 {
		at = fromNanos(checked)
	}
	return digest.Digest(d), at, nil
}

// MarkTagChecked implements meta.ProxyStore. Like the upload bookkeeping it
// need not be durable: a lost mark costs one more check upstream.
func (s *Store) MarkTagChecked(ctx context.Context, repo, tag string, t time.Time) error {
	return s.lazyTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO proxy_tags (repository_id, name, checked_at)
			SELECT t.repository_id, t.name, ? FROM tags t JOIN repositories r ON r.id = t.repository_id
			WHERE r.name = ? AND t.name = ?
			ON CONFLICT (repository_id, name) DO UPDATE SET checked_at = excluded.checked_at`, t.UnixNano(), repo, tag)
		return changedOne(res, err, "tag "+tag)
	})
}

// MarkPulled implements meta.ProxyStore; not durable either (a lost mark
// makes the manifest look older to eviction).
func (s *Store) MarkPulled(ctx context.Context, repo string, dgst digest.Digest, t time.Time) error {
	return s.lazyTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO proxy_manifests (manifest_id, pulled_at)
			SELECT m.id, ? FROM manifests m JOIN repositories r ON r.id = m.repository_id
			WHERE r.name = ? AND m.digest = ?
			ON CONFLICT (manifest_id) DO UPDATE SET pulled_at = excluded.pulled_at`, t.UnixNano(), repo, dgst.String())
		return changedOne(res, err, "manifest "+dgst.String())
	})
}

// prefixRange is the range of repository names under prefix + "/": "0" is
// the byte after "/".
func prefixRange(prefix string) (string, string) { return prefix + "/", prefix + "0" }

// CacheUsage implements meta.ProxyStore.
func (s *Store) CacheUsage(ctx context.Context, prefix string) (int64, error) {
	lo, hi := prefixRange(prefix)
	var n int64
	err := s.readRow(ctx, `SELECT
		COALESCE((SELECT SUM(b.size) FROM blobs b WHERE b.digest IN (
			SELECT rb.digest FROM repository_blobs rb JOIN repositories r ON r.id = rb.repository_id
			WHERE r.name >= ? AND r.name < ?)), 0) +
		COALESCE((SELECT SUM(m.size) FROM manifests m JOIN repositories r ON r.id = m.repository_id
			WHERE r.name >= ? AND r.name < ?), 0)`, lo, hi, lo, hi).Scan(&n)
	return n, err
}

// LeastRecentlyPulled implements meta.ProxyStore.
func (s *Store) LeastRecentlyPulled(ctx context.Context, prefix string, before time.Time, n int) ([]meta.CachedManifest, error) {
	lo, hi := prefixRange(prefix)
	rows, err := s.readRows(ctx, `SELECT r.name, m.digest, COALESCE(pm.pulled_at, m.created_at) AS p
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		LEFT JOIN proxy_manifests pm ON pm.manifest_id = m.id
		WHERE r.name >= ? AND r.name < ? AND COALESCE(pm.pulled_at, m.created_at) < ?
		ORDER BY p, m.id LIMIT ?`, lo, hi, before.UnixNano(), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.CachedManifest{}
	for rows.Next() {
		var c meta.CachedManifest
		var d string
		var p int64
		if err := rows.Scan(&c.Repository, &d, &p); err != nil {
			return nil, err
		}
		c.Digest, c.PulledAt = digest.Digest(d), fromNanos(p)
		out = append(out, c)
	}
	return out, rows.Err()
}

// EvictManifest implements meta.ProxyStore.
func (s *Store) EvictManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	return s.tx(ctx, func(tx wtx) error {
		var repoID int64
		if err := tx.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = ?`, repo).Scan(&repoID); err != nil {
			return notFound(err, "repository "+repo)
		}
		// Tags, references and bookkeeping go with it (ON DELETE CASCADE).
		res, err := tx.ExecContext(ctx, `DELETE FROM manifests WHERE repository_id = ? AND digest = ?`, repoID, dgst.String())
		if err := changedOne(res, err, "manifest "+dgst.String()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM repository_blobs WHERE repository_id = ?
			AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
				WHERE m.repository_id = ? AND mb.digest = repository_blobs.digest)`, repoID, repoID); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM repositories WHERE id = ?
			AND NOT EXISTS (SELECT 1 FROM manifests WHERE repository_id = ?)
			AND NOT EXISTS (SELECT 1 FROM repository_blobs WHERE repository_id = ?)`, repoID, repoID, repoID)
		return err
	})
}
