package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func qmark(int) string { return "?" }

// ListRepositories implements meta.BrowseStore.
func (s *Store) ListRepositories(ctx context.Context, q meta.RepositoryQuery) ([]meta.RepositorySummary, int64, error) {
	count, countArgs, page, pageArgs := meta.RepositoryListQuery(q, qmark)
	var total int64
	if err := s.readRow(ctx, count, countArgs...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.readRows(ctx, page, pageArgs...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []meta.RepositorySummary{}
	for rows.Next() {
		var r meta.RepositorySummary
		var pushed, pulled int64
		if err := rows.Scan(&r.Name, &pushed, &r.Pulls, &pulled, &r.Tags); err != nil {
			return nil, 0, err
		}
		r.PushedAt, r.PulledAt = fromNanosOrZero(pushed), fromNanosOrZero(pulled)
		out = append(out, r)
	}
	return out, total, rows.Err()
}

func fromNanosOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

func (s *Store) repoID(ctx context.Context, repo string) (int64, error) {
	var id int64
	err := s.readRow(ctx, `SELECT id FROM repositories WHERE name = ?`, repo).Scan(&id)
	return id, notFound(err, "repository "+repo)
}

func scanTagSummaries(rows *sql.Rows, err error) ([]meta.TagSummary, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.TagSummary{}
	for rows.Next() {
		var t meta.TagSummary
		var pushed, pulled int64
		if err := rows.Scan(&t.Tag, &t.Digest, &t.MediaType, &t.ArtifactType, &t.Size, &pushed, &pulled); err != nil {
			return nil, err
		}
		t.PushedAt, t.PulledAt = fromNanos(pushed), fromNanosOrZero(pulled)
		out = append(out, t)
	}
	return out, rows.Err()
}

// TagPage implements meta.BrowseStore.
func (s *Store) TagPage(ctx context.Context, repo string, q meta.TagQuery) ([]meta.TagSummary, int, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, 0, err
	}
	count, countArgs, page, pageArgs := meta.TagPageQuery(id, q, qmark)
	var total int
	if err := s.readRow(ctx, count, countArgs...).Scan(&total); err != nil {
		return nil, 0, err
	}
	tags, err := scanTagSummaries(s.readRows(ctx, page, pageArgs...))
	return tags, total, err
}

// TagNames implements meta.BrowseStore.
func (s *Store) TagNames(ctx context.Context, repo, filter string) ([]string, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, err
	}
	if filter == "" {
		return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = ?`, id)
	}
	return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = ? AND lower(name) LIKE ? ESCAPE '\'`, id, meta.LikeContains(filter))
}

// TagsNamed implements meta.BrowseStore.
func (s *Store) TagsNamed(ctx context.Context, repo string, names []string) ([]meta.TagSummary, error) {
	if len(names) == 0 {
		return []meta.TagSummary{}, nil
	}
	args := []any{repo}
	for _, n := range names {
		args = append(args, n)
	}
	return scanTagSummaries(s.r.QueryContext(ctx, meta.TagSummaryCols+` JOIN repositories r ON r.id = t.repository_id
		WHERE r.name = ? AND t.name IN (`+strings.TrimSuffix(strings.Repeat("?,", len(names)), ",")+`)`, args...))
}

// RepositoryManifests implements meta.BrowseStore.
func (s *Store) RepositoryManifests(ctx context.Context, repo, kind string, limit int) ([]meta.ManifestSummary, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, err
	}
	rows, err := s.readRows(ctx, meta.RepositoryManifestsQuery(kind, qmark), id, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.ManifestSummary{}
	for rows.Next() {
		var m meta.ManifestSummary
		var created, pulled int64
		if err := rows.Scan(&m.Digest, &m.MediaType, &m.ArtifactType, &m.Subject, &m.Size, &created, &pulled); err != nil {
			return nil, err
		}
		m.CreatedAt, m.PulledAt = fromNanos(created), fromNanosOrZero(pulled)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ManifestContents implements meta.BrowseStore.
func (s *Store) ManifestContents(ctx context.Context, repo string, dgsts []digest.Digest) (map[digest.Digest][]byte, error) {
	out := map[digest.Digest][]byte{}
	if len(dgsts) == 0 {
		return out, nil
	}
	args := []any{repo}
	for _, d := range dgsts {
		args = append(args, d.String())
	}
	rows, err := s.r.QueryContext(ctx, `SELECT m.digest, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.digest IN (`+strings.TrimSuffix(strings.Repeat("?,", len(dgsts)), ",")+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var b []byte
		if err := rows.Scan(&d, &b); err != nil {
			return nil, err
		}
		out[digest.Digest(d)] = b
	}
	return out, rows.Err()
}

// ReferrerTypes implements meta.BrowseStore.
func (s *Store) ReferrerTypes(ctx context.Context, repo string, subjects []digest.Digest) (map[digest.Digest][]string, error) {
	out := map[digest.Digest][]string{}
	if len(subjects) == 0 {
		return out, nil
	}
	args := []any{repo}
	for _, d := range subjects {
		args = append(args, d.String())
	}
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT m.subject, m.artifact_type FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.subject IN (`+strings.TrimSuffix(strings.Repeat("?,", len(subjects)), ",")+`) ORDER BY m.subject, m.artifact_type`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var subj, typ string
		if err := rows.Scan(&subj, &typ); err != nil {
			return nil, err
		}
		out[digest.Digest(subj)] = append(out[digest.Digest(subj)], typ)
	}
	return out, rows.Err()
}

// ManifestTags implements meta.BrowseStore.
func (s *Store) ManifestTags(ctx context.Context, repo string, dgst digest.Digest) ([]string, time.Time, error) {
	var mid, pulled int64
	err := s.readRow(ctx, `SELECT m.id, m.pulled_at FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = ? AND m.digest = ?`, repo, dgst.String()).Scan(&mid, &pulled)
	if err != nil {
		return nil, time.Time{}, notFound(err, "manifest "+dgst.String())
	}
	tags, err := s.strings(ctx, `SELECT name FROM tags WHERE manifest_id = ? ORDER BY name`, mid)
	return tags, fromNanosOrZero(pulled), err
}

// SearchRepositories implements meta.BrowseStore.
func (s *Store) SearchRepositories(ctx context.Context, q string, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM repositories WHERE name LIKE ? ESCAPE '\' ORDER BY name LIMIT ?`,
		meta.LikeContains(q), limit)
}

func scanTagHits(rows *sql.Rows) ([]meta.TagHit, error) {
	defer rows.Close()
	out := []meta.TagHit{}
	for rows.Next() {
		var h meta.TagHit
		var at int64
		if err := rows.Scan(&h.Repository, &h.Tag, &h.Digest, &at); err != nil {
			return nil, err
		}
		h.PushedAt = fromNanos(at)
		out = append(out, h)
	}
	return out, rows.Err()
}

const tagHitCols = `SELECT r.name, t.name, m.digest, t.updated_at FROM tags t
	JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id`

// SearchTags implements meta.BrowseStore: a range of the tags_name
// index, so it costs the matches, not the number of tags.
func (s *Store) SearchTags(ctx context.Context, q string, limit int) ([]meta.TagHit, error) {
	lo, hi := meta.PrefixRange(q)
	rows, err := s.readRows(ctx, tagHitCols+` WHERE t.name >= ? AND t.name < ? ORDER BY t.updated_at DESC LIMIT ?`, lo, hi, limit)
	if err != nil {
		return nil, err
	}
	return scanTagHits(rows)
}

// RecentTags implements meta.BrowseStore.
func (s *Store) RecentTags(ctx context.Context, limit int) ([]meta.TagHit, error) {
	rows, err := s.readRows(ctx, tagHitCols+` ORDER BY t.updated_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	return scanTagHits(rows)
}

// SearchDigests implements meta.BrowseStore.
func (s *Store) SearchDigests(ctx context.Context, prefix string, limit int) ([]meta.DigestHit, error) {
	rows, err := s.readRows(ctx, `SELECT r.name, m.digest, m.media_type FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE m.digest >= ? AND m.digest LIKE ? ESCAPE '\' ORDER BY m.digest, r.name LIMIT ?`, prefix, meta.LikePrefix(prefix), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.DigestHit{}
	for rows.Next() {
		var h meta.DigestHit
		if err := rows.Scan(&h.Repository, &h.Digest, &h.MediaType); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// CountRepositories implements meta.BrowseStore.
func (s *Store) CountRepositories(ctx context.Context) (int64, error) {
	var n int64
	err := s.readRow(ctx, `SELECT COUNT(*) FROM repositories`).Scan(&n)
	return n, err
}

// RecordPulls implements meta.BrowseStore. It commits lazily: a crash
// loses at most the last moments of the statistics.
func (s *Store) RecordPulls(ctx context.Context, pulls []meta.Pull) error {
	if len(pulls) == 0 {
		return nil
	}
	return s.lazyTx(ctx, func(tx wtx) error {
		// Prepared for the loop: a batch has up to 100,000 rows.
		repo, err := tx.PrepareContext(ctx, `UPDATE repositories SET pull_count = pull_count + ?, pulled_at = max(pulled_at, ?)
			WHERE name = ?`)
		if err != nil {
			return err
		}
		defer repo.Close()
		man, err := tx.PrepareContext(ctx, `UPDATE manifests SET pulled_at = max(pulled_at, ?)
			WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND digest = ?`)
		if err != nil {
			return err
		}
		defer man.Close()
		for _, p := range pulls {
			at := nanos(p.At)
			if _, err := repo.ExecContext(ctx, p.Count, at, p.Repository); err != nil {
				return err
			}
			if _, err := man.ExecContext(ctx, at, p.Repository, p.Digest.String()); err != nil {
				return err
			}
		}
		return nil
	})
}
