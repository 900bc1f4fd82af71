package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Garbage collection. The single writer makes each re-check and delete
// atomic against every push: a transaction that deletes re-states the
// whole condition in its DELETE or UPDATE.

// SetBlobCheck implements meta.GCStore. Call it before the store is used.
func (s *Store) SetBlobCheck(fn meta.BlobCheck) { s.blobCheck = fn }

// collectableManifest is the condition on manifest m (and parameter ?:
// whether referrers whose subject is gone are collectable).
const collectableManifest = `NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
	AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
		WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)
	AND (m.subject = '' OR (? AND NOT EXISTS (SELECT 1 FROM manifests s
		WHERE s.repository_id = m.repository_id AND s.digest = m.subject)))`

// GCManifests implements meta.GCStore.
func (s *Store) GCManifests(ctx context.Context, p meta.GCPolicy, after int64, n int) ([]meta.ManifestRef, error) {
	rows, err := s.readRows(ctx, `SELECT m.id, r.name, m.digest, m.size FROM manifests m
		JOIN repositories r ON r.id = m.repository_id
		WHERE m.id > ? AND m.created_at < ? AND `+collectableManifest+` ORDER BY m.id LIMIT ?`,
		after, p.Before.UnixNano(), p.OrphanReferrers, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.ManifestRef{}
	for rows.Next() {
		var m meta.ManifestRef
		var d string
		if err := rows.Scan(&m.ID, &m.Repository, &d, &m.Size); err != nil {
			return nil, err
		}
		m.Digest = digest.Digest(d)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteGCManifests implements meta.GCStore.
func (s *Store) DeleteGCManifests(ctx context.Context, p meta.GCPolicy, ms []meta.ManifestRef) ([]meta.ManifestRef, error) {
	var out []meta.ManifestRef
	err := s.tx(ctx, func(tx wtx) error {
		out = out[:0]
		st, err := tx.PrepareContext(ctx, `DELETE FROM manifests AS m WHERE m.id = ? AND m.created_at < ? AND `+collectableManifest)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range ms {
			res, err := st.ExecContext(ctx, m.ID, p.Before.UnixNano(), p.OrphanReferrers)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}

// unreferencedLink is the condition on repository_blobs rb.
const unreferencedLink = `NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
	WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id)`

// GCLinks implements meta.GCStore.
func (s *Store) GCLinks(ctx context.Context, p meta.GCPolicy, after meta.BlobLink, n int) ([]meta.BlobLink, error) {
	rows, err := s.readRows(ctx, `SELECT rb.repository_id, r.name, rb.digest FROM repository_blobs rb
		JOIN repositories r ON r.id = rb.repository_id
		WHERE (rb.repository_id, rb.digest) > (?, ?) AND rb.created_at < ? AND `+unreferencedLink+`
		ORDER BY rb.repository_id, rb.digest LIMIT ?`,
		after.RepositoryID, after.Digest.String(), p.Before.UnixNano(), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.BlobLink{}
	for rows.Next() {
		var l meta.BlobLink
		var d string
		if err := rows.Scan(&l.RepositoryID, &l.Repository, &d); err != nil {
			return nil, err
		}
		l.Digest = digest.Digest(d)
		out = append(out, l)
	}
	return out, rows.Err()
}

// DeleteGCLinks implements meta.GCStore.
func (s *Store) DeleteGCLinks(ctx context.Context, p meta.GCPolicy, links []meta.BlobLink) ([]meta.BlobLink, error) {
	var out []meta.BlobLink
	err := s.tx(ctx, func(tx wtx) error {
		out = out[:0]
		st, err := tx.PrepareContext(ctx, `DELETE FROM repository_blobs AS rb
			WHERE rb.repository_id = ? AND rb.digest = ? AND rb.created_at < ? AND `+unreferencedLink)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range links {
			res, err := st.ExecContext(ctx, l.RepositoryID, l.Digest.String(), p.Before.UnixNano())
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, l)
			}
		}
		return nil
	})
	return out, err
}

// blobList runs a query returning digest, size, created_at.
func (s *Store) blobList(ctx context.Context, query string, args ...any) ([]meta.Blob, error) {
	rows, err := s.readRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Blob{}
	for rows.Next() {
		var b meta.Blob
		var d string
		var created int64
		if err := rows.Scan(&d, &b.Size, &created); err != nil {
			return nil, err
		}
		b.Digest, b.CreatedAt = digest.Digest(d), fromNanos(created)
		out = append(out, b)
	}
	return out, rows.Err()
}

const unlinkedBlob = `NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)`

// GCBlobs implements meta.GCStore.
func (s *Store) GCBlobs(ctx context.Context, p meta.GCPolicy, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, `SELECT digest, size, created_at FROM blobs b
		WHERE digest > ? AND deleting = 0 AND created_at < ? AND `+unlinkedBlob+` ORDER BY digest LIMIT ?`,
		after.String(), p.Before.UnixNano(), n)
}

// MarkBlobsDeleting implements meta.GCStore.
func (s *Store) MarkBlobsDeleting(ctx context.Context, p meta.GCPolicy, ds []digest.Digest) ([]meta.Blob, error) {
	var out []meta.Blob
	err := s.tx(ctx, func(tx wtx) error {
		out = out[:0]
		st, err := tx.PrepareContext(ctx, `UPDATE blobs AS b SET deleting = 1
			WHERE digest = ? AND deleting = 0 AND created_at < ? AND `+unlinkedBlob+` RETURNING size, created_at`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, d := range ds {
			b := meta.Blob{Digest: d}
			var created int64
			err := st.QueryRowContext(ctx, d.String(), p.Before.UnixNano()).Scan(&b.Size, &created)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			b.CreatedAt = fromNanos(created)
			out = append(out, b)
		}
		return nil
	})
	return out, err
}

// MarkOrphanBlobs implements meta.GCStore.
func (s *Store) MarkOrphanBlobs(ctx context.Context, files []meta.Blob) ([]meta.Blob, error) {
	var out []meta.Blob
	err := s.tx(ctx, func(tx wtx) error {
		out = out[:0]
		t := now()
		for _, f := range files {
			res, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at, deleting) VALUES (?, ?, ?, 1)
				ON CONFLICT (digest) DO NOTHING`, f.Digest.String(), f.Size, t)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, f)
			}
		}
		return nil
	})
	return out, err
}

// DeletingBlobs implements meta.GCStore.
func (s *Store) DeletingBlobs(ctx context.Context, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, `SELECT digest, size, created_at FROM blobs WHERE deleting <> 0 AND digest > ? ORDER BY digest LIMIT ?`,
		after.String(), n)
}

// ForgetBlobs implements meta.GCStore.
func (s *Store) ForgetBlobs(ctx context.Context, ds []digest.Digest) error {
	return s.tx(ctx, func(tx wtx) error {
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = ? AND deleting <> 0`, d.String()); err != nil {
				return err
			}
		}
		return nil
	})
}

// KnownBlobs implements meta.GCStore.
func (s *Store) KnownBlobs(ctx context.Context, ds []digest.Digest) (map[digest.Digest]bool, error) {
	out := make(map[digest.Digest]bool, len(ds))
	for _, d := range ds {
		var n int
		if err := s.readRow(ctx, `SELECT COUNT(*) FROM blobs WHERE digest = ?`, d.String()).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[d] = true
		}
	}
	return out, nil
}

// Blobs implements meta.GCStore.
func (s *Store) Blobs(ctx context.Context, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, `SELECT digest, size, created_at FROM blobs WHERE deleting = 0 AND digest > ? ORDER BY digest LIMIT ?`,
		after.String(), n)
}

// DropBlobs implements meta.GCStore.
func (s *Store) DropBlobs(ctx context.Context, ds []digest.Digest) ([]meta.ManifestRef, error) {
	var out []meta.ManifestRef
	err := s.tx(ctx, func(tx wtx) error {
		out = out[:0]
		for _, d := range ds {
			rows, err := tx.QueryContext(ctx, `SELECT m.id, r.name, m.digest, m.size FROM manifest_blobs mb
				JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id
				WHERE mb.digest = ? ORDER BY r.name, m.digest`, d.String())
			if err != nil {
				return err
			}
			for rows.Next() {
				var m meta.ManifestRef
				var md string
				if err := rows.Scan(&m.ID, &m.Repository, &md, &m.Size); err != nil {
					rows.Close()
					return err
				}
				m.Digest = digest.Digest(md)
				out = append(out, m)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM repository_blobs WHERE digest = ?`, d.String()); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = ?`, d.String()); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// StaleUploads implements meta.GCStore.
func (s *Store) StaleUploads(ctx context.Context, before time.Time, after string, n int) ([]meta.Upload, error) {
	rows, err := s.readRows(ctx, `SELECT id, repository, algorithm, size, created_at, updated_at FROM uploads
		WHERE id > ? AND updated_at < ? AND lease_until <= ? ORDER BY id LIMIT ?`, after, before.UnixNano(), now(), n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Upload{}
	for rows.Next() {
		var u meta.Upload
		var alg string
		var created, updated int64
		if err := rows.Scan(&u.ID, &u.Repository, &alg, &u.Size, &created, &updated); err != nil {
			return nil, err
		}
		u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteStaleUpload implements meta.GCStore.
func (s *Store) DeleteStaleUpload(ctx context.Context, id string, before time.Time) (bool, error) {
	var deleted bool
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ? AND updated_at < ? AND lease_until <= ?`,
			id, before.UnixNano(), now())
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		deleted = n == 1
		return nil
	})
	return deleted, err
}

// KnownUploads implements meta.GCStore.
func (s *Store) KnownUploads(ctx context.Context, ids []string) (map[string]bool, error) {
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		var n int
		if err := s.readRow(ctx, `SELECT COUNT(*) FROM uploads WHERE id = ?`, id).Scan(&n); err != nil {
			return nil, err
		}
		if n > 0 {
			out[id] = true
		}
	}
	return out, nil
}

// DeleteRepository implements meta.GCStore. Tags, manifests (with their
// references) and blob links go with the repository row (ON DELETE CASCADE).
func (s *Store) DeleteRepository(ctx context.Context, name string, allow func([]string) error) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx wtx) error {
		if allow != nil {
			if err := allowTags(ctx, tx, name, allow); err != nil {
				return err
			}
		}
		var err error
		if ids, err = scanStrings(tx.QueryContext(ctx, `DELETE FROM uploads WHERE repository = ? RETURNING id`, name)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM repositories WHERE name = ?`, name)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		if n == 0 && len(ids) == 0 {
			return fmt.Errorf("%w: repository %s", meta.ErrNotFound, name)
		}
		if n == 0 {
			return nil
		}
		return recordEvent(ctx, tx, meta.NewEvent(ctx, meta.EventRepositoryDeleted, name))
	})
	return ids, err
}

// allowTags hands the repository's tags to allow, a page at a time.
func allowTags(ctx context.Context, tx wtx, repo string, allow func([]string) error) error {
	for last := ""; ; {
		tags, err := scanStrings(tx.QueryContext(ctx, `SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
			WHERE r.name = ? AND t.name > ? ORDER BY t.name LIMIT 1000`, repo, last))
		if err != nil {
			return err
		}
		if len(tags) == 0 {
			return nil
		}
		if err := allow(tags); err != nil {
			return err
		}
		last = tags[len(tags)-1]
	}
}
