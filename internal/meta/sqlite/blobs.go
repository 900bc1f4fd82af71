package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// qBlobInRepo reads a blob a repository may read (pushed or mounted there).
const qBlobInRepo = `SELECT b.size, b.created_at FROM blobs b
	JOIN repository_blobs rb ON rb.digest = b.digest
	JOIN repositories r ON r.id = rb.repository_id
	WHERE r.name = ? AND b.digest = ?`

// Blob implements meta.Store.
func (s *Store) Blob(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, error) {
	var b meta.Blob
	var created int64
	err := s.readRow(ctx, qBlobInRepo, repo, dgst.String()).Scan(&b.Size, &created)
	if err != nil {
		return meta.Blob{}, notFound(err, "blob "+dgst.String())
	}
	b.Digest, b.CreatedAt = dgst, fromNanos(created)
	return b, nil
}

// BlobOrManifest implements meta.Store.
func (s *Store) BlobOrManifest(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, bool, error) {
	b := meta.Blob{Digest: dgst}
	var created int64
	var manifest bool
	err := s.readRow(ctx, `SELECT b.size, b.created_at, 0 FROM blobs b
		JOIN repository_blobs rb ON rb.digest = b.digest
		JOIN repositories r ON r.id = rb.repository_id
		WHERE r.name = ? AND b.digest = ?
		UNION ALL
		SELECT length(m.content), m.created_at, 1 FROM manifests m
		JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.digest = ?
		LIMIT 1`, repo, dgst.String(), repo, dgst.String()).Scan(&b.Size, &created, &manifest)
	if err != nil {
		return meta.Blob{}, false, notFound(err, "blob "+dgst.String())
	}
	b.CreatedAt = fromNanos(created)
	return b, manifest, nil
}

// AnyBlob implements meta.Store.
func (s *Store) AnyBlob(ctx context.Context, dgst digest.Digest) (meta.Blob, error) {
	var b meta.Blob
	var created int64
	err := s.readRow(ctx, `SELECT size, created_at FROM blobs WHERE digest = ? AND deleting = 0`, dgst.String()).Scan(&b.Size, &created)
	if err != nil {
		return meta.Blob{}, notFound(err, "blob "+dgst.String())
	}
	b.Digest, b.CreatedAt = dgst, fromNanos(created)
	return b, nil
}

// BlobUnder implements meta.Store.
func (s *Store) BlobUnder(ctx context.Context, prefix string, dgst digest.Digest) (meta.Blob, error) {
	var b meta.Blob
	var created int64
	p := prefix + "/"
	err := s.readRow(ctx, `SELECT b.size, b.created_at FROM blobs b
		JOIN repository_blobs rb ON rb.digest = b.digest
		JOIN repositories r ON r.id = rb.repository_id
		WHERE b.digest = ? AND b.deleting = 0 AND substr(r.name, 1, length(?)) = ?
		LIMIT 1`, dgst.String(), p, p).Scan(&b.Size, &created)
	if err != nil {
		return meta.Blob{}, notFound(err, "blob "+dgst.String())
	}
	b.Digest, b.CreatedAt = dgst, fromNanos(created)
	return b, nil
}

// PutBlob implements meta.Store.
func (s *Store) PutBlob(ctx context.Context, repo string, b meta.Blob) error {
	return s.tx(ctx, func(tx wtx) error { return s.putBlob(ctx, tx, repo, b) })
}

// putBlob records a blob and links it to repo. A tombstone (garbage
// collection is deleting the file) refuses it; a row created anew is only
// recorded if the file is stored (see meta.GCStore). The link's time is
// refreshed, so a blob pushed or mounted again gets a new grace period.
func (s *Store) putBlob(ctx context.Context, tx wtx, repo string, b meta.Blob) error {
	t := now()
	res, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?) ON CONFLICT (digest) DO NOTHING`,
		b.Digest.String(), b.Size, t)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		if s.blobCheck != nil {
			if err := s.blobCheck(ctx, b.Digest); err != nil {
				return fmt.Errorf("%w: %s: %v", meta.ErrBlobDeleting, b.Digest, err)
			}
		}
	} else {
		var deleting bool
		if err := tx.QueryRowContext(ctx, `SELECT deleting FROM blobs WHERE digest = ?`, b.Digest.String()).Scan(&deleting); err != nil {
			return err
		}
		if deleting {
			return fmt.Errorf("%w: %s", meta.ErrBlobDeleting, b.Digest)
		}
	}
	id, err := ensureRepo(ctx, tx, repo)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES (?, ?, ?)
		ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at`, id, b.Digest.String(), t)
	return err
}

// MountBlob implements meta.Store.
func (s *Store) MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (meta.Blob, error) {
	var b meta.Blob
	err := s.tx(ctx, func(tx wtx) error {
		var created int64
		err := tx.QueryRowContext(ctx, qBlobInRepo, from, dgst.String()).Scan(&b.Size, &created)
		if err != nil {
			return notFound(err, fmt.Sprintf("blob %s in %s", dgst, from))
		}
		b.Digest, b.CreatedAt = dgst, fromNanos(created)
		return s.putBlob(ctx, tx, repo, b)
	})
	return b, err
}

// UnlinkBlob implements meta.Store.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, dgst digest.Digest) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM repository_blobs
		WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`, repo, dgst.String())
	return changedOne(res, err, "blob "+dgst.String())
}

// BlobStats implements meta.Store.
func (s *Store) BlobStats(ctx context.Context) (count, bytes int64, err error) {
	err = s.readRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE deleting = 0`).Scan(&count, &bytes)
	return count, bytes, err
}

// CreateUpload implements meta.Store, without waiting for the disk (see
// the interface).
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	t := now()
	return s.lazyTx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO uploads (id, repository, algorithm, size, hash_state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Repository, string(u.Algorithm), u.Size, u.HashState, t, t)
		return err
	})
}

// Upload implements meta.Store.
func (s *Store) Upload(ctx context.Context, repo, id string) (meta.Upload, error) {
	u := meta.Upload{ID: id, Repository: repo}
	var alg string
	var created, updated int64
	err := s.readRow(ctx, `SELECT algorithm, size, hash_state, created_at, updated_at FROM uploads
		WHERE id = ? AND repository = ?`, id, repo).Scan(&alg, &u.Size, &u.HashState, &created, &updated)
	if err != nil {
		return meta.Upload{}, notFound(err, "upload "+id)
	}
	u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
	return u, nil
}

// UpdateUpload implements meta.Store, without waiting for the disk.
func (s *Store) UpdateUpload(ctx context.Context, u meta.Upload, prevSize int64) error {
	return s.lazyTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE uploads SET size = ?, hash_state = ?, updated_at = ?
			WHERE id = ? AND repository = ? AND size = ?`, u.Size, u.HashState, now(), u.ID, u.Repository, prevSize)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads WHERE id = ? AND repository = ?`, u.ID, u.Repository).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: upload %s", meta.ErrNotFound, u.ID)
		}
		return fmt.Errorf("%w: upload %s was written concurrently", meta.ErrConflict, u.ID)
	})
}

// AcquireUpload implements meta.Store, without waiting for the disk. The
// single writer makes the conditional UPDATE and the check after it atomic.
func (s *Store) AcquireUpload(ctx context.Context, repo, id, owner string, ttl time.Duration) (meta.Upload, error) {
	u := meta.Upload{ID: id, Repository: repo}
	err := s.lazyTx(ctx, func(tx wtx) error {
		t := now()
		var alg string
		var created, updated int64
		err := tx.QueryRowContext(ctx, `UPDATE uploads SET lease_owner = ?, lease_until = ?
			WHERE id = ? AND repository = ? AND (lease_owner = ? OR lease_until <= ?)
			RETURNING algorithm, size, hash_state, created_at, updated_at`,
			owner, t+int64(ttl), id, repo, owner, t).Scan(&alg, &u.Size, &u.HashState, &created, &updated)
		if err == nil {
			u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM uploads WHERE id = ? AND repository = ?`, id, repo).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: upload %s", meta.ErrNotFound, id)
		}
		return fmt.Errorf("%w: upload %s is leased by another writer", meta.ErrConflict, id)
	})
	if err != nil {
		return meta.Upload{}, err
	}
	return u, nil
}

// ReleaseUpload implements meta.Store, without waiting for the disk.
func (s *Store) ReleaseUpload(ctx context.Context, repo, id, owner string) error {
	return s.lazyTx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE uploads SET lease_owner = '', lease_until = 0
			WHERE id = ? AND repository = ? AND lease_owner = ?`, id, repo, owner)
		return err
	})
}

// DeleteUpload implements meta.Store.
func (s *Store) DeleteUpload(ctx context.Context, repo, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM uploads WHERE id = ? AND repository = ?`, id, repo)
	return changedOne(res, err, "upload "+id)
}

// CompleteUpload implements meta.Store.
func (s *Store) CompleteUpload(ctx context.Context, u meta.Upload, b meta.Blob) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM uploads WHERE id = ? AND repository = ?`, u.ID, u.Repository)
		if err := changedOne(res, err, "upload "+u.ID); err != nil {
			return err
		}
		return s.putBlob(ctx, tx, u.Repository, b)
	})
}
