package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// PutManifest implements meta.Store.
func (s *Store) PutManifest(ctx context.Context, m *meta.Manifest, tags []string) error {
	return s.putManifest(ctx, m, tags, nil)
}

// putManifest is PutManifest that does not move the tags in immutable
// (PutManifestGuarded).
func (s *Store) putManifest(ctx context.Context, m *meta.Manifest, tags, immutable []string) error {
	annotations, err := meta.EncodeAnnotations(m.Annotations)
	if err != nil {
		return err
	}
	// Upserting tags in one order keeps two pushes that share tags from
	// locking them in opposite orders (a deadlock); duplicates would make
	// ON CONFLICT DO UPDATE touch a row twice, which PostgreSQL refuses.
	tags = slices.Compact(slices.Sorted(slices.Values(tags)))
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := putManifestTx(ctx, tx, m, annotations, tags, immutable); err != nil {
			return err
		}
		e := meta.NewEvent(ctx, meta.EventManifestPushed, m.Repository)
		e.Digest, e.MediaType, e.Tags = m.Digest, m.MediaType, tags
		return recordEvent(ctx, tx, e)
	})
}

// putManifestTx is putManifest inside the caller's transaction (tags
// sorted and without duplicates), without the event: adoption records
// none.
func putManifestTx(ctx context.Context, tx pgx.Tx, m *meta.Manifest, annotations string, tags, immutable []string) error {
	repoID, err := ensureRepo(ctx, tx, m.Repository)
	if err != nil {
		return err
	}
	// FOR KEY SHARE holds what was found until commit: a concurrent
	// UnlinkBlob or DeleteManifest waits instead of leaving this
	// manifest pointing at something gone.
	// The same query reads each reference's size for m.Sizes.
	if err := present(ctx, tx, m, `SELECT rb.digest, b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
		WHERE rb.repository_id = $1 AND rb.digest = ANY($2) FOR KEY SHARE OF rb`, repoID, m.Blobs, "blob"); err != nil {
		return err
	}
	if err := present(ctx, tx, m, `SELECT digest, size FROM manifests
		WHERE repository_id = $1 AND digest = ANY($2) FOR KEY SHARE`, repoID, m.Children, "manifest"); err != nil {
		return err
	}
	id, err := insertManifest(ctx, tx, repoID, m, annotations)
	if err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	return upsertTags(ctx, tx, repoID, tags, id, immutable)
}

// present checks, in one query selecting (digest, size), that every digest
// is in the repository and has the size m.Sizes gives it; it returns a
// *meta.MissingError or *meta.SizeError for the first one (in the
// manifest's order) that does not.
func present(ctx context.Context, tx pgx.Tx, m *meta.Manifest, query string, repoID int64, want []digest.Digest, kind string) error {
	if len(want) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, query, repoID, digestStrings(want))
	if err != nil {
		return err
	}
	found := make(map[string]int64, len(want))
	var d string
	var size int64
	if _, err := pgx.ForEachRow(rows, []any{&d, &size}, func() error {
		found[d] = size
		return nil
	}); err != nil {
		return err
	}
	for _, d := range want {
		size, ok := found[d.String()]
		if !ok {
			return &meta.MissingError{Digest: d, Kind: kind}
		}
		if err := m.CheckSize(d, kind, size); err != nil {
			return err
		}
	}
	return nil
}

// insertManifest returns the id of the manifest, inserting it with its
// references if the repository does not have it yet. Like ensureRepo it
// looks first (an existing manifest is locked FOR KEY SHARE so that its
// new tags cannot lose it to a concurrent delete), inserts with ON
// CONFLICT DO NOTHING, and looks again when a concurrent push won.
func insertManifest(ctx context.Context, tx pgx.Tx, repoID int64, m *meta.Manifest, annotations string) (int64, error) {
	var id int64
	for range maxAttempts {
		err := tx.QueryRow(ctx, `SELECT id FROM manifests WHERE repository_id = $1 AND digest = $2 FOR KEY SHARE`,
			repoID, m.Digest.String()).Scan(&id)
		if !errors.Is(err, pgx.ErrNoRows) {
			return id, err
		}
		err = tx.QueryRow(ctx, `INSERT INTO manifests
			(repository_id, digest, media_type, artifact_type, subject, annotations, size, content, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id`,
			repoID, m.Digest.String(), m.MediaType, m.ArtifactType, m.Subject.String(), annotations,
			len(m.Content), m.Content, now()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // a concurrent push inserted it first: select it
		}
		if err != nil {
			return 0, err
		}
		if len(m.Blobs) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO manifest_blobs (manifest_id, digest)
				SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, digestStrings(m.Blobs)); err != nil {
				return 0, err
			}
		}
		if len(m.Children) > 0 {
			if _, err := tx.Exec(ctx, `INSERT INTO manifest_children (manifest_id, child_digest)
				SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, id, digestStrings(m.Children)); err != nil {
				return 0, err
			}
		}
		return id, nil
	}
	return 0, fmt.Errorf("%w: manifest %s was pushed and deleted concurrently", meta.ErrConflict, m.Digest)
}

func digestStrings(ds []digest.Digest) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.String()
	}
	return out
}

// Manifest implements meta.Store. Blobs and Children are not loaded.
func (s *Store) Manifest(ctx context.Context, repo string, dgst digest.Digest) (*meta.Manifest, error) {
	m := &meta.Manifest{Repository: repo, Digest: dgst}
	var subject, annotations string
	var created int64
	err := s.pool.QueryRow(ctx, `SELECT m.media_type, m.artifact_type, m.subject, m.annotations, m.content, m.created_at
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.digest = $2`, repo, dgst.String()).Scan(&m.MediaType, &m.ArtifactType, &subject, &annotations, &m.Content, &created)
	if err != nil {
		return nil, notFound(err, "manifest "+dgst.String())
	}
	m.Subject, m.CreatedAt = digest.Digest(subject), fromNanos(created)
	if m.Annotations, err = meta.DecodeAnnotations(annotations); err != nil {
		return nil, err
	}
	return m, nil
}

// ResolveTag implements meta.Store.
func (s *Store) ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error) {
	var d string
	err := s.pool.QueryRow(ctx, `SELECT m.digest FROM tags t
		JOIN repositories r ON r.id = t.repository_id
		JOIN manifests m ON m.id = t.manifest_id
		WHERE r.name = $1 AND t.name = $2`, repo, tag).Scan(&d)
	if err != nil {
		return "", notFound(err, "tag "+tag)
	}
	return digest.Digest(d), nil
}

// DeleteManifest implements meta.Store.
func (s *Store) DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	// Tags and references go with it (ON DELETE CASCADE).
	return s.tx(ctx, func(tx pgx.Tx) error {
		var mediaType string
		err := tx.QueryRow(ctx, `DELETE FROM manifests
			WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND digest = $2 RETURNING media_type`,
			repo, dgst.String()).Scan(&mediaType)
		if err != nil {
			return notFound(err, "manifest "+dgst.String())
		}
		return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
	})
}

// recordManifestDeleted records the event of a manifest's deletion.
func recordManifestDeleted(ctx context.Context, tx pgx.Tx, repo string, dgst digest.Digest, mediaType string) error {
	e := meta.NewEvent(ctx, meta.EventManifestDeleted, repo)
	e.Digest, e.MediaType = dgst, mediaType
	return recordEvent(ctx, tx, e)
}

// deleteTagEvent is DELETE FROM tags ... RETURNING tagReturning, then
// recordTagDeleted with the values returned.
const tagReturning = `(SELECT m.digest FROM manifests m WHERE m.id = tags.manifest_id),
	(SELECT m.media_type FROM manifests m WHERE m.id = tags.manifest_id)`

// recordTagDeleted records the event of a tag's deletion.
func recordTagDeleted(ctx context.Context, tx pgx.Tx, repo, tag, dgst, mediaType string) error {
	e := meta.NewEvent(ctx, meta.EventTagDeleted, repo)
	e.Digest, e.MediaType, e.Tags = digest.Digest(dgst), mediaType, []string{tag}
	return recordEvent(ctx, tx, e)
}

// DeleteTag implements meta.Store.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var d, mediaType string
		err := tx.QueryRow(ctx, `DELETE FROM tags
			WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND name = $2 RETURNING `+tagReturning,
			repo, tag).Scan(&d, &mediaType)
		if err != nil {
			return notFound(err, "tag "+tag)
		}
		return recordTagDeleted(ctx, tx, repo, tag, d, mediaType)
	})
}

// Tags implements meta.Store.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT id FROM repositories WHERE name = $1`, repo).Scan(&id); err != nil {
		return nil, notFound(err, "repository "+repo)
	}
	return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = $1 AND name > $2 ORDER BY name LIMIT $3`, id, last, limit(n))
}

// Referrers implements meta.Store. One static query (the artifactType
// filter is a parameter, empty for none) keeps one prepared statement.
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.subject = $2 AND m.subject <> '' AND ($3 = '' OR m.artifact_type = $3)
		ORDER BY m.digest`, repo, subject.String(), artifactType)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Descriptor{}, rows, func(row pgx.CollectableRow) (meta.Descriptor, error) {
		var d meta.Descriptor
		var dg, annotations string
		if err := row.Scan(&d.MediaType, &dg, &d.Size, &d.ArtifactType, &annotations); err != nil {
			return d, err
		}
		d.Digest = digest.Digest(dg)
		if d.Annotations, err = meta.DecodeAnnotations(annotations); err != nil {
			return d, err
		}
		return d, nil
	})
}
