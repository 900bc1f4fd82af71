package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// blobIn selects a blob that repository $1 may read.
const blobIn = `SELECT b.size, b.created_at FROM blobs b
	JOIN repository_blobs rb ON rb.digest = b.digest
	JOIN repositories r ON r.id = rb.repository_id
	WHERE r.name = $1 AND b.digest = $2`

// Blob implements meta.Store.
func (s *Store) Blob(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, error) {
	return scanBlob(s.pool.QueryRow(ctx, blobIn, repo, dgst.String()), dgst, "blob "+dgst.String())
}

// BlobOrManifest implements meta.Store.
func (s *Store) BlobOrManifest(ctx context.Context, repo string, dgst digest.Digest) (meta.Blob, bool, error) {
	b := meta.Blob{Digest: dgst}
	var created, linked int64
	var manifest bool
	err := s.pool.QueryRow(ctx, `(SELECT b.size, b.created_at, rb.created_at, false FROM blobs b
		JOIN repository_blobs rb ON rb.digest = b.digest
		JOIN repositories r ON r.id = rb.repository_id
		WHERE r.name = $1 AND b.digest = $2)
		UNION ALL
		(SELECT octet_length(m.content), m.created_at, 0, true FROM manifests m
		JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.digest = $2)
		LIMIT 1`, repo, dgst.String()).Scan(&b.Size, &created, &linked, &manifest)
	if err != nil {
		return meta.Blob{}, false, notFound(err, "blob "+dgst.String())
	}
	b.CreatedAt = fromNanos(created)
	if !manifest {
		b.LinkedAt = fromNanos(linked)
	}
	return b, manifest, nil
}

// RenewBlobLink implements meta.Store.
func (s *Store) RenewBlobLink(ctx context.Context, repo string, dgst digest.Digest, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE repository_blobs SET created_at = greatest(created_at, $1)
		WHERE repository_id = (SELECT id FROM repositories WHERE name = $2) AND digest = $3`,
		now.UnixNano(), repo, dgst.String())
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: blob %s in %s", meta.ErrNotFound, dgst, repo)
	}
	return nil
}

// AnyBlob implements meta.Store.
func (s *Store) AnyBlob(ctx context.Context, dgst digest.Digest) (meta.Blob, error) {
	row := s.pool.QueryRow(ctx, `SELECT size, created_at FROM blobs WHERE digest = $1 AND NOT deleting`, dgst.String())
	return scanBlob(row, dgst, "blob "+dgst.String())
}

// BlobUnder implements meta.Store.
func (s *Store) BlobUnder(ctx context.Context, prefix string, dgst digest.Digest) (meta.Blob, error) {
	row := s.pool.QueryRow(ctx, `SELECT b.size, b.created_at FROM blobs b
		JOIN repository_blobs rb ON rb.digest = b.digest
		JOIN repositories r ON r.id = rb.repository_id
		WHERE b.digest = $1 AND NOT b.deleting AND starts_with(r.name, $2)
		LIMIT 1`, dgst.String(), prefix+"/")
	return scanBlob(row, dgst, "blob "+dgst.String())
}

func scanBlob(row pgx.Row, dgst digest.Digest, what string) (meta.Blob, error) {
	b := meta.Blob{Digest: dgst}
	var created int64
	if err := row.Scan(&b.Size, &created); err != nil {
		return meta.Blob{}, notFound(err, what)
	}
	b.CreatedAt = fromNanos(created)
	return b, nil
}

// PutBlob implements meta.Store.
func (s *Store) PutBlob(ctx context.Context, repo string, b meta.Blob) error {
	return s.tx(ctx, func(tx pgx.Tx) error { return s.putBlob(ctx, tx, repo, b) })
}

// putBlob records a blob and links it to repo. A tombstone (garbage
// collection is deleting the file) refuses it; a row created anew is only
// recorded if the file is stored (see meta.GCStore). The row is held FOR
// KEY SHARE until commit, so garbage collection (which locks it FOR UPDATE
// before re-checking for links) either sees the new link or has already
// made the row a tombstone, which this then sees. The link's time is
// refreshed, so a blob pushed or mounted again gets a new grace period.
func (s *Store) putBlob(ctx context.Context, tx pgx.Tx, repo string, b meta.Blob) error {
	t := now()
	tag, err := tx.Exec(ctx, `INSERT INTO blobs (digest, size, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING`,
		b.Digest.String(), b.Size, t)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 1 {
		if s.blobCheck != nil {
			if err := s.blobCheck(ctx, b.Digest); err != nil {
				return fmt.Errorf("%w: %s: %v", meta.ErrBlobDeleting, b.Digest, err)
			}
		}
	} else {
		var deleting bool
		err := tx.QueryRow(ctx, `SELECT deleting FROM blobs WHERE digest = $1 FOR KEY SHARE`, b.Digest.String()).Scan(&deleting)
		if errors.Is(err, pgx.ErrNoRows) {
			// The tombstone was removed since the INSERT looked: the file
			// is gone; the client pushes again.
			return fmt.Errorf("%w: %s", meta.ErrBlobDeleting, b.Digest)
		}
		if err != nil {
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
	_, err = tx.Exec(ctx, `INSERT INTO repository_blobs (repository_id, digest, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (repository_id, digest) DO UPDATE SET created_at = excluded.created_at`, id, b.Digest.String(), t)
	return err
}

// MountBlob implements meta.Store.
func (s *Store) MountBlob(ctx context.Context, repo, from string, dgst digest.Digest) (meta.Blob, error) {
	var b meta.Blob
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = scanBlob(tx.QueryRow(ctx, blobIn, from, dgst.String()), dgst, fmt.Sprintf("blob %s in %s", dgst, from))
		if err != nil {
			return err
		}
		return s.putBlob(ctx, tx, repo, b)
	})
	return b, err
}

// UnlinkBlob implements meta.Store.
func (s *Store) UnlinkBlob(ctx context.Context, repo string, dgst digest.Digest) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM repository_blobs
		WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2`, repo, dgst.String())
	return changedOne(tag, err, "blob "+dgst.String())
}

// BlobStats implements meta.Store. COUNT(*) reads the whole blobs table (an
// index-only scan at best); fine for a metrics scrape, not for a hot path.
func (s *Store) BlobStats(ctx context.Context) (count, bytes int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0)::BIGINT FROM blobs WHERE NOT deleting`).Scan(&count, &bytes)
	return count, bytes, err
}

// CreateUpload implements meta.Store.
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	t := now()
	_, err := s.pool.Exec(ctx, `INSERT INTO uploads (id, repository, algorithm, size, hash_state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, u.ID, u.Repository, string(u.Algorithm), u.Size, u.HashState, t, t)
	return err
}

// Upload implements meta.Store.
func (s *Store) Upload(ctx context.Context, repo, id string) (meta.Upload, error) {
	u := meta.Upload{ID: id, Repository: repo}
	var alg string
	var created, updated int64
	err := s.pool.QueryRow(ctx, `SELECT algorithm, size, hash_state, created_at, updated_at FROM uploads
		WHERE id = $1 AND repository = $2`, id, repo).Scan(&alg, &u.Size, &u.HashState, &created, &updated)
	if err != nil {
		return meta.Upload{}, notFound(err, "upload "+id)
	}
	u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
	return u, nil
}

// UpdateUpload implements meta.Store. One statement both updates and tells
// a stale prevSize (the row exists: ErrConflict) from an unknown upload
// (ErrNotFound): the outer SELECT sees the table as it was before the
// UPDATE, and the UPDATE itself re-checks size on the latest row version.
func (s *Store) UpdateUpload(ctx context.Context, u meta.Upload, prevSize int64) error {
	var updated, exists bool
	err := s.pool.QueryRow(ctx, `WITH u AS (
			UPDATE uploads SET size = $3, hash_state = $4, updated_at = $5
			WHERE id = $1 AND repository = $2 AND size = $6 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM u), EXISTS (SELECT 1 FROM uploads WHERE id = $1 AND repository = $2)`,
		u.ID, u.Repository, u.Size, u.HashState, now(), prevSize).Scan(&updated, &exists)
	switch {
	case err != nil:
		return err
	case updated:
		return nil
	case !exists:
		return fmt.Errorf("%w: upload %s", meta.ErrNotFound, u.ID)
	}
	return fmt.Errorf("%w: upload %s was written concurrently", meta.ErrConflict, u.ID)
}

// dbNow is the database's clock in Unix nanoseconds. Leases are timed by
// it, not by the instances' clocks, so instances whose clocks disagree
// still agree on when a lease expires.
const dbNow = `(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000000)::BIGINT`

// AcquireUpload implements meta.Store. The conditional UPDATE is atomic: of
// two instances racing for a free lease, the second re-checks the row the
// first updated and is refused.
func (s *Store) AcquireUpload(ctx context.Context, repo, id, owner string, ttl time.Duration) (meta.Upload, error) {
	u := meta.Upload{ID: id, Repository: repo}
	var alg string
	var created, updated int64
	err := s.pool.QueryRow(ctx, `UPDATE uploads SET lease_owner = $3, lease_until = `+dbNow+` + $4
		WHERE id = $1 AND repository = $2 AND (lease_owner = $3 OR lease_until <= `+dbNow+`)
		RETURNING algorithm, size, hash_state, created_at, updated_at`,
		id, repo, owner, int64(ttl)).Scan(&alg, &u.Size, &u.HashState, &created, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM uploads WHERE id = $1 AND repository = $2)`, id, repo).Scan(&exists); err != nil {
			return meta.Upload{}, err
		}
		if !exists {
			return meta.Upload{}, fmt.Errorf("%w: upload %s", meta.ErrNotFound, id)
		}
		return meta.Upload{}, fmt.Errorf("%w: upload %s is leased by another writer", meta.ErrConflict, id)
	}
	if err != nil {
		return meta.Upload{}, err
	}
	u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
	return u, nil
}

// ReleaseUpload implements meta.Store.
func (s *Store) ReleaseUpload(ctx context.Context, repo, id, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE uploads SET lease_owner = '', lease_until = 0
		WHERE id = $1 AND repository = $2 AND lease_owner = $3`, id, repo, owner)
	return err
}

// DeleteUpload implements meta.Store.
func (s *Store) DeleteUpload(ctx context.Context, repo, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM uploads WHERE id = $1 AND repository = $2`, id, repo)
	return changedOne(tag, err, "upload "+id)
}

// CompleteUpload implements meta.Store.
func (s *Store) CompleteUpload(ctx context.Context, u meta.Upload, b meta.Blob) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM uploads WHERE id = $1 AND repository = $2`, u.ID, u.Repository)
		if err := changedOne(tag, err, "upload "+u.ID); err != nil {
			return err
		}
		return s.putBlob(ctx, tx, u.Repository, b)
	})
}
