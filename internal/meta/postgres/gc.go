package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Garbage collection. Each Delete/Mark transaction first locks the rows
// it may delete FOR UPDATE, in key order, then deletes them with a
// statement that states the whole condition again. At READ COMMITTED that
// statement takes a new snapshot after the locks were granted, so it sees
// every push that held one of the rows (FOR KEY SHARE, taken by manifest
// pushes on the blob links and child manifests they check, by tag moves
// on the manifest, and by putBlob on the blob row) and has committed; a
// push that comes after waits for the lock and then finds the row gone.

// SetBlobCheck implements meta.GCStore. Call it before the store is used.
func (s *Store) SetBlobCheck(fn meta.BlobCheck) { s.blobCheck = fn }

// collectableManifest is the condition on manifest m; $2 is the time
// before which it must have been created, $3 whether referrers whose
// subject is gone are collectable.
const collectableManifest = `m.created_at < $2
	AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
	AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
		WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)
	AND (m.subject = '' OR ($3 AND NOT EXISTS (SELECT 1 FROM manifests s
		WHERE s.repository_id = m.repository_id AND s.digest = m.subject)))`

// GCManifests implements meta.GCStore.
func (s *Store) GCManifests(ctx context.Context, p meta.GCPolicy, after int64, n int) ([]meta.ManifestRef, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.id, r.name, m.digest, m.size FROM manifests m
		JOIN repositories r ON r.id = m.repository_id
		WHERE m.id > $1 AND `+collectableManifest+` ORDER BY m.id LIMIT $4`,
		after, p.Before.UnixNano(), p.OrphanReferrers, n)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.ManifestRef{}, rows, scanManifestRef)
}

func scanManifestRef(row pgx.CollectableRow) (meta.ManifestRef, error) {
	var m meta.ManifestRef
	var d string
	err := row.Scan(&m.ID, &m.Repository, &d, &m.Size)
	m.Digest = digest.Digest(d)
	return m, err
}

// DeleteGCManifests implements meta.GCStore.
func (s *Store) DeleteGCManifests(ctx context.Context, p meta.GCPolicy, ms []meta.ManifestRef) ([]meta.ManifestRef, error) {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	var out []meta.ManifestRef
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM manifests WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM manifests m USING repositories r
			WHERE m.id = ANY($1) AND r.id = m.repository_id AND `+collectableManifest+`
			RETURNING m.id, r.name, m.digest, m.size`, ids, p.Before.UnixNano(), p.OrphanReferrers)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanManifestRef)
		return err
	})
	return out, err
}

// unreferencedLink is the condition on repository_blobs rb.
const unreferencedLink = `NOT EXISTS (SELECT 1 FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id
	WHERE mb.digest = rb.digest AND m.repository_id = rb.repository_id)`

// GCLinks implements meta.GCStore.
func (s *Store) GCLinks(ctx context.Context, p meta.GCPolicy, after meta.BlobLink, n int) ([]meta.BlobLink, error) {
	rows, err := s.pool.Query(ctx, `SELECT rb.repository_id, r.name, rb.digest FROM repository_blobs rb
		JOIN repositories r ON r.id = rb.repository_id
		WHERE (rb.repository_id, rb.digest) > ($1, $2) AND rb.created_at < $3 AND `+unreferencedLink+`
		ORDER BY rb.repository_id, rb.digest LIMIT $4`,
		after.RepositoryID, after.Digest.String(), p.Before.UnixNano(), n)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.BlobLink{}, rows, func(row pgx.CollectableRow) (meta.BlobLink, error) {
		var l meta.BlobLink
		var d string
		err := row.Scan(&l.RepositoryID, &l.Repository, &d)
		l.Digest = digest.Digest(d)
		return l, err
	})
}

// DeleteGCLinks implements meta.GCStore.
func (s *Store) DeleteGCLinks(ctx context.Context, p meta.GCPolicy, links []meta.BlobLink) ([]meta.BlobLink, error) {
	links = slices.Clone(links)
	slices.SortFunc(links, func(a, b meta.BlobLink) int {
		if a.RepositoryID != b.RepositoryID {
			return int(a.RepositoryID - b.RepositoryID)
		}
		return compareDigests(a.Digest, b.Digest)
	})
	repoIDs := make([]int64, len(links))
	ds := make([]string, len(links))
	names := map[int64]string{}
	for i, l := range links {
		repoIDs[i], ds[i] = l.RepositoryID, l.Digest.String()
		names[l.RepositoryID] = l.Repository
	}
	var out []meta.BlobLink
	err := s.tx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		if _, err := tx.Exec(ctx, `SELECT 1 FROM repository_blobs
			WHERE (repository_id, digest) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
			ORDER BY repository_id, digest FOR UPDATE`, repoIDs, ds); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM repository_blobs rb
			WHERE (rb.repository_id, rb.digest) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))
			AND rb.created_at < $3 AND `+unreferencedLink+` RETURNING rb.repository_id, rb.digest`,
			repoIDs, ds, p.Before.UnixNano())
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (meta.BlobLink, error) {
			var l meta.BlobLink
			var d string
			err := row.Scan(&l.RepositoryID, &d)
			l.Digest, l.Repository = digest.Digest(d), names[l.RepositoryID]
			return l, err
		})
		return err
	})
	return out, err
}

func compareDigests(a, b digest.Digest) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// blobList runs a query returning digest, size, created_at.
func (s *Store) blobList(ctx context.Context, q pgx.Tx, query string, args ...any) ([]meta.Blob, error) {
	var rows pgx.Rows
	var err error
	if q != nil {
		rows, err = q.Query(ctx, query, args...)
	} else {
		rows, err = s.pool.Query(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Blob{}, rows, func(row pgx.CollectableRow) (meta.Blob, error) {
		var b meta.Blob
		var d string
		var created int64
		err := row.Scan(&d, &b.Size, &created)
		b.Digest, b.CreatedAt = digest.Digest(d), fromNanos(created)
		return b, err
	})
}

const unlinkedBlob = `NOT EXISTS (SELECT 1 FROM repository_blobs rb WHERE rb.digest = b.digest)`

// GCBlobs implements meta.GCStore.
func (s *Store) GCBlobs(ctx context.Context, p meta.GCPolicy, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, nil, `SELECT digest, size, created_at FROM blobs b
		WHERE digest > $1 AND NOT deleting AND created_at < $2 AND `+unlinkedBlob+` ORDER BY digest LIMIT $3`,
		after.String(), p.Before.UnixNano(), n)
}

func sortedStrings(ds []digest.Digest) []string {
	out := digestStrings(ds)
	slices.Sort(out)
	return out
}

// MarkBlobsDeleting implements meta.GCStore.
func (s *Store) MarkBlobsDeleting(ctx context.Context, p meta.GCPolicy, ds []digest.Digest) ([]meta.Blob, error) {
	keys := sortedStrings(ds)
	var out []meta.Blob
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM blobs WHERE digest = ANY($1) ORDER BY digest FOR UPDATE`, keys); err != nil {
			return err
		}
		var err error
		out, err = s.blobList(ctx, tx, `UPDATE blobs b SET deleting = true
			WHERE digest = ANY($1) AND NOT deleting AND created_at < $2 AND `+unlinkedBlob+`
			RETURNING digest, size, created_at`, keys, p.Before.UnixNano())
		return err
	})
	return out, err
}

// MarkOrphanBlobs implements meta.GCStore.
func (s *Store) MarkOrphanBlobs(ctx context.Context, files []meta.Blob) ([]meta.Blob, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b meta.Blob) int { return compareDigests(a.Digest, b.Digest) })
	ds := make([]string, len(files))
	sizes := make([]int64, len(files))
	for i, f := range files {
		ds[i], sizes[i] = f.Digest.String(), f.Size
	}
	var out []meta.Blob
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.blobList(ctx, tx, `INSERT INTO blobs (digest, size, created_at, deleting)
			SELECT d, sz, $3, true FROM unnest($1::text[], $2::bigint[]) AS f(d, sz)
			ON CONFLICT (digest) DO NOTHING RETURNING digest, size, created_at`, ds, sizes, now())
		return err
	})
	return out, err
}

// DeletingBlobs implements meta.GCStore.
func (s *Store) DeletingBlobs(ctx context.Context, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, nil, `SELECT digest, size, created_at FROM blobs WHERE deleting AND digest > $1 ORDER BY digest LIMIT $2`,
		after.String(), n)
}

// ForgetBlobs implements meta.GCStore.
func (s *Store) ForgetBlobs(ctx context.Context, ds []digest.Digest) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM blobs WHERE digest = ANY($1) AND deleting`, sortedStrings(ds))
		return err
	})
}

// KnownBlobs implements meta.GCStore.
func (s *Store) KnownBlobs(ctx context.Context, ds []digest.Digest) (map[digest.Digest]bool, error) {
	found, err := s.strings(ctx, `SELECT digest FROM blobs WHERE digest = ANY($1)`, digestStrings(ds))
	if err != nil {
		return nil, err
	}
	out := make(map[digest.Digest]bool, len(found))
	for _, d := range found {
		out[digest.Digest(d)] = true
	}
	return out, nil
}

// Blobs implements meta.GCStore.
func (s *Store) Blobs(ctx context.Context, after digest.Digest, n int) ([]meta.Blob, error) {
	return s.blobList(ctx, nil, `SELECT digest, size, created_at FROM blobs WHERE NOT deleting AND digest > $1 ORDER BY digest LIMIT $2`,
		after.String(), n)
}

// DropBlobs implements meta.GCStore.
func (s *Store) DropBlobs(ctx context.Context, ds []digest.Digest) ([]meta.ManifestRef, error) {
	keys := sortedStrings(ds)
	var out []meta.ManifestRef
	err := s.tx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT m.id, r.name, m.digest, m.size FROM manifest_blobs mb
			JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id
			WHERE mb.digest = ANY($1) ORDER BY r.name, m.digest`, keys)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectRows(rows, scanManifestRef); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM repository_blobs WHERE digest = ANY($1)`, keys); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM blobs WHERE digest = ANY($1)`, keys)
		return err
	})
	return out, err
}

// StaleUploads implements meta.GCStore.
func (s *Store) StaleUploads(ctx context.Context, before time.Time, after string, n int) ([]meta.Upload, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, repository, algorithm, size, created_at, updated_at FROM uploads
		WHERE id > $1 AND updated_at < $2 AND lease_until <= `+dbNow+` ORDER BY id LIMIT $3`, after, before.UnixNano(), n)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Upload{}, rows, func(row pgx.CollectableRow) (meta.Upload, error) {
		var u meta.Upload
		var alg string
		var created, updated int64
		err := row.Scan(&u.ID, &u.Repository, &alg, &u.Size, &created, &updated)
		u.Algorithm, u.CreatedAt, u.UpdatedAt = digest.Algorithm(alg), fromNanos(created), fromNanos(updated)
		return u, err
	})
}

// DeleteStaleUpload implements meta.GCStore.
func (s *Store) DeleteStaleUpload(ctx context.Context, id string, before time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM uploads WHERE id = $1 AND updated_at < $2 AND lease_until <= `+dbNow,
		id, before.UnixNano())
	return err == nil && tag.RowsAffected() == 1, err
}

// KnownUploads implements meta.GCStore.
func (s *Store) KnownUploads(ctx context.Context, ids []string) (map[string]bool, error) {
	found, err := s.strings(ctx, `SELECT id FROM uploads WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(found))
	for _, id := range found {
		out[id] = true
	}
	return out, nil
}

// DeleteRepository implements meta.GCStore. Tags, manifests (with their
// references) and blob links go with the repository row (ON DELETE CASCADE).
func (s *Store) DeleteRepository(ctx context.Context, name string, allow func([]string) error) ([]string, error) {
	var ids []string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if allow != nil {
			if err := allowTags(ctx, tx, name, allow); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `DELETE FROM uploads WHERE repository = $1 RETURNING id`, name)
		if err != nil {
			return err
		}
		if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM repositories WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 && len(ids) == 0 {
			return fmt.Errorf("%w: repository %s", meta.ErrNotFound, name)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return recordEvent(ctx, tx, meta.NewEvent(ctx, meta.EventRepositoryDeleted, name))
	})
	return ids, err
}

// allowTags hands the repository's tags to allow, a page at a time. The
// repository row is locked first, so that no tag can be pushed into it
// between the check and the delete.
func allowTags(ctx context.Context, tx pgx.Tx, repo string, allow func([]string) error) error {
	if _, err := tx.Exec(ctx, `SELECT id FROM repositories WHERE name = $1 FOR UPDATE`, repo); err != nil {
		return err
	}
	for last := ""; ; {
		rows, err := tx.Query(ctx, `SELECT t.name FROM tags t JOIN repositories r ON r.id = t.repository_id
			WHERE r.name = $1 AND t.name > $2 ORDER BY t.name LIMIT 1000`, repo, last)
		if err != nil {
			return err
		}
		tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
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
