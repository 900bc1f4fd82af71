package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"

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
	return s.tx(ctx, func(tx wtx) error {
		if err := putManifestTx(ctx, tx, m, annotations, tags, immutable); err != nil {
			return err
		}
		e := meta.NewEvent(ctx, meta.EventManifestPushed, m.Repository)
		e.Digest, e.MediaType, e.Tags = m.Digest, m.MediaType, tags
		return recordEvent(ctx, tx, e)
	})
}

// putManifestTx is putManifest inside the caller's transaction, without
// the event: adoption records none.
func putManifestTx(ctx context.Context, tx wtx, m *meta.Manifest, annotations string, tags, immutable []string) error {
	repoID, err := ensureRepo(ctx, tx, m.Repository)
	if err != nil {
		return err
	}
	// One read per reference checks both that the repository has it
	// and that the manifest gives it its stored size.
	for _, d := range m.Blobs {
		if err := sized(ctx, tx, m, `SELECT b.size FROM repository_blobs rb JOIN blobs b ON b.digest = rb.digest
			WHERE rb.repository_id = ? AND rb.digest = ?`, repoID, d, "blob"); err != nil {
			return err
		}
	}
	for _, d := range m.Children {
		if err := sized(ctx, tx, m, `SELECT size FROM manifests WHERE repository_id = ? AND digest = ?`, repoID, d, "manifest"); err != nil {
			return err
		}
	}
	id, err := insertManifest(ctx, tx, repoID, m, annotations, now())
	if err != nil {
		return err
	}
	t := now()
	for _, tag := range tags {
		q := `INSERT INTO tags (repository_id, name, manifest_id, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`
		fixed := slices.Contains(immutable, tag)
		if fixed {
			q += ` WHERE tags.manifest_id = excluded.manifest_id`
		}
		res, err := tx.ExecContext(ctx, q, repoID, tag, id, t)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if fixed && n == 0 {
			return &meta.ImmutableTagError{Tag: tag}
		}
	}
	return nil
}

// sized runs a query that selects the size of reference d of m, or no
// row: a *meta.MissingError when there is none, a *meta.SizeError when m
// declares another size.
func sized(ctx context.Context, tx wtx, m *meta.Manifest, query string, repoID int64, d digest.Digest, kind string) error {
	var size int64
	if err := tx.QueryRowContext(ctx, query, repoID, d.String()).Scan(&size); err != nil {
		return missing(err, d, kind)
	}
	return m.CheckSize(d, kind, size)
}

func missing(err error, d digest.Digest, kind string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &meta.MissingError{Digest: d, Kind: kind}
	}
	return err
}

// Manifest implements meta.Store. Blobs and Children are not loaded.
func (s *Store) Manifest(ctx context.Context, repo string, dgst digest.Digest) (*meta.Manifest, error) {
	m := &meta.Manifest{Repository: repo, Digest: dgst}
	var subject, annotations string
	var created int64
	err := s.readRow(ctx, `SELECT m.media_type, m.artifact_type, m.subject, m.annotations, m.content, m.created_at
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.digest = ?`, repo, dgst.String()).Scan(&m.MediaType, &m.ArtifactType, &subject, &annotations, &m.Content, &created)
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
	err := s.readRow(ctx, `SELECT m.digest FROM tags t
		JOIN repositories r ON r.id = t.repository_id
		JOIN manifests m ON m.id = t.manifest_id
		WHERE r.name = ? AND t.name = ?`, repo, tag).Scan(&d)
	if err != nil {
		return "", notFound(err, "tag "+tag)
	}
	return digest.Digest(d), nil
}

// DeleteManifest implements meta.Store.
func (s *Store) DeleteManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	// Tags and references go with it (ON DELETE CASCADE).
	return s.tx(ctx, func(tx wtx) error {
		var mediaType string
		err := tx.QueryRowContext(ctx, `DELETE FROM manifests
			WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ? RETURNING media_type`,
			repo, dgst.String()).Scan(&mediaType)
		if err != nil {
			return notFound(err, "manifest "+dgst.String())
		}
		return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
	})
}

// recordManifestDeleted records the event of a manifest's deletion.
func recordManifestDeleted(ctx context.Context, tx wtx, repo string, dgst digest.Digest, mediaType string) error {
	e := meta.NewEvent(ctx, meta.EventManifestDeleted, repo)
	e.Digest, e.MediaType = dgst, mediaType
	return recordEvent(ctx, tx, e)
}

// recordTagDeleted records the event of a tag's deletion; manifestID is
// the manifest it pointed at.
func recordTagDeleted(ctx context.Context, tx wtx, repo, tag string, manifestID int64) error {
	e := meta.NewEvent(ctx, meta.EventTagDeleted, repo)
	var d string
	if err := tx.QueryRowContext(ctx, `SELECT digest, media_type FROM manifests WHERE id = ?`, manifestID).Scan(&d, &e.MediaType); err != nil {
		return err
	}
	e.Digest, e.Tags = digest.Digest(d), []string{tag}
	return recordEvent(ctx, tx, e)
}

// DeleteTag implements meta.Store.
func (s *Store) DeleteTag(ctx context.Context, repo, tag string) error {
	return s.tx(ctx, func(tx wtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `DELETE FROM tags
			WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND name = ? RETURNING manifest_id`,
			repo, tag).Scan(&id)
		if err != nil {
			return notFound(err, "tag "+tag)
		}
		return recordTagDeleted(ctx, tx, repo, tag, id)
	})
}

// Tags implements meta.Store.
func (s *Store) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	var id int64
	if err := s.readRow(ctx, `SELECT id FROM repositories WHERE name = ?`, repo).Scan(&id); err != nil {
		return nil, notFound(err, "repository "+repo)
	}
	return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = ? AND name > ? ORDER BY name LIMIT ?`, id, last, n)
}

// Referrers implements meta.Store.
func (s *Store) Referrers(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]meta.Descriptor, error) {
	q := `SELECT m.media_type, m.digest, m.size, m.artifact_type, m.annotations
		FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.subject = ?`
	args := []any{repo, subject.String()}
	if artifactType != "" {
		q += ` AND m.artifact_type = ?`
		args = append(args, artifactType)
	}
	rows, err := s.readRows(ctx, q+` ORDER BY m.digest`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Descriptor{}
	for rows.Next() {
		var d meta.Descriptor
		var dg, annotations string
		if err := rows.Scan(&d.MediaType, &dg, &d.Size, &d.ArtifactType, &annotations); err != nil {
			return nil, err
		}
		d.Digest = digest.Digest(dg)
		if d.Annotations, err = meta.DecodeAnnotations(annotations); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// insertManifest returns the id of manifest m in repository repoID,
// inserting it with its blob and child references (created at t, Unix
// nanoseconds) when the repository does not have it yet.
func insertManifest(ctx context.Context, tx wtx, repoID int64, m *meta.Manifest, annotations string, t int64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM manifests WHERE repository_id = ? AND digest = ?`, repoID, m.Digest.String()).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO manifests
		(repository_id, digest, media_type, artifact_type, subject, annotations, size, content, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		repoID, m.Digest.String(), m.MediaType, m.ArtifactType, m.Subject.String(), annotations,
		len(m.Content), m.Content, t)
	if err != nil {
		return 0, err
	}
	if id, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	for _, d := range m.Blobs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manifest_blobs (manifest_id, digest) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, d.String()); err != nil {
			return 0, err
		}
	}
	for _, d := range m.Children {
		if _, err := tx.ExecContext(ctx, `INSERT INTO manifest_children (manifest_id, child_digest) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, d.String()); err != nil {
			return 0, err
		}
	}
	return id, nil
}
