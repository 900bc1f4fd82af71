package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func dollar(i int) string { return "$" + strconv.Itoa(i) }

func fromNanosOrZero(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// ListRepositories implements meta.BrowseStore.
func (s *Store) ListRepositories(ctx context.Context, q meta.RepositoryQuery) ([]meta.RepositorySummary, int64, error) {
	count, countArgs, page, pageArgs := meta.RepositoryListQuery(q, dollar)
	var total int64
	if err := s.pool.QueryRow(ctx, count, countArgs...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.pool.Query(ctx, page, pageArgs...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.AppendRows([]meta.RepositorySummary{}, rows, func(row pgx.CollectableRow) (meta.RepositorySummary, error) {
		var r meta.RepositorySummary
		var pushed, pulled int64
		err := row.Scan(&r.Name, &pushed, &r.Pulls, &pulled, &r.Tags)
		r.PushedAt, r.PulledAt = fromNanosOrZero(pushed), fromNanosOrZero(pulled)
		return r, err
	})
	return out, total, err
}

func (s *Store) repoID(ctx context.Context, repo string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM repositories WHERE name = $1`, repo).Scan(&id)
	return id, notFound(err, "repository "+repo)
}

func scanTagSummaries(rows pgx.Rows, err error) ([]meta.TagSummary, error) {
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.TagSummary{}, rows, func(row pgx.CollectableRow) (meta.TagSummary, error) {
		var t meta.TagSummary
		var d string
		var pushed, pulled int64
		err := row.Scan(&t.Tag, &d, &t.MediaType, &t.ArtifactType, &t.Size, &pushed, &pulled)
		t.Digest, t.PushedAt, t.PulledAt = digest.Digest(d), fromNanos(pushed), fromNanosOrZero(pulled)
		return t, err
	})
}

// TagPage implements meta.BrowseStore.
func (s *Store) TagPage(ctx context.Context, repo string, q meta.TagQuery) ([]meta.TagSummary, int, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, 0, err
	}
	count, countArgs, page, pageArgs := meta.TagPageQuery(id, q, dollar)
	var total int
	if err := s.pool.QueryRow(ctx, count, countArgs...).Scan(&total); err != nil {
		return nil, 0, err
	}
	tags, err := scanTagSummaries(s.pool.Query(ctx, page, pageArgs...))
	return tags, total, err
}

// TagNames implements meta.BrowseStore.
func (s *Store) TagNames(ctx context.Context, repo, filter string) ([]string, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, err
	}
	if filter == "" {
		return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = $1`, id)
	}
	return s.strings(ctx, `SELECT name FROM tags WHERE repository_id = $1 AND lower(name) LIKE $2 ESCAPE '\'`, id, meta.LikeContains(filter))
}

// TagsNamed implements meta.BrowseStore.
func (s *Store) TagsNamed(ctx context.Context, repo string, names []string) ([]meta.TagSummary, error) {
	if len(names) == 0 {
		return []meta.TagSummary{}, nil
	}
	return scanTagSummaries(s.pool.Query(ctx, meta.TagSummaryCols+` JOIN repositories r ON r.id = t.repository_id
		WHERE r.name = $1 AND t.name = ANY($2)`, repo, names))
}

// RepositoryManifests implements meta.BrowseStore.
func (s *Store) RepositoryManifests(ctx context.Context, repo, kind string, limit int) ([]meta.ManifestSummary, error) {
	id, err := s.repoID(ctx, repo)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, meta.RepositoryManifestsQuery(kind, dollar), id, limit)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.ManifestSummary{}, rows, func(row pgx.CollectableRow) (meta.ManifestSummary, error) {
		var m meta.ManifestSummary
		var d, subj string
		var created, pulled int64
		err := row.Scan(&d, &m.MediaType, &m.ArtifactType, &subj, &m.Size, &created, &pulled)
		m.Digest, m.Subject, m.CreatedAt, m.PulledAt = digest.Digest(d), digest.Digest(subj), fromNanos(created), fromNanosOrZero(pulled)
		return m, err
	})
}

// ManifestContents implements meta.BrowseStore.
func (s *Store) ManifestContents(ctx context.Context, repo string, dgsts []digest.Digest) (map[digest.Digest][]byte, error) {
	out := map[digest.Digest][]byte{}
	if len(dgsts) == 0 {
		return out, nil
	}
	ds := make([]string, len(dgsts))
	for i, d := range dgsts {
		ds[i] = d.String()
	}
	rows, err := s.pool.Query(ctx, `SELECT m.digest, m.content FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.digest = ANY($2)`, repo, ds)
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

// ManifestTags implements meta.BrowseStore.
func (s *Store) ManifestTags(ctx context.Context, repo string, dgst digest.Digest) ([]string, time.Time, error) {
	var mid, pulled int64
	err := s.pool.QueryRow(ctx, `SELECT m.id, m.pulled_at FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.digest = $2`, repo, dgst.String()).Scan(&mid, &pulled)
	if err != nil {
		return nil, time.Time{}, notFound(err, "manifest "+dgst.String())
	}
	tags, err := s.strings(ctx, `SELECT name FROM tags WHERE manifest_id = $1 ORDER BY name`, mid)
	return tags, fromNanosOrZero(pulled), err
}

// SearchRepositories implements meta.BrowseStore.
func (s *Store) SearchRepositories(ctx context.Context, q string, limit int) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM repositories WHERE name LIKE $1 ESCAPE '\' ORDER BY name LIMIT $2`,
		meta.LikeContains(q), limit)
}

const tagHitCols = `SELECT r.name, t.name, m.digest, t.updated_at FROM tags t
	JOIN repositories r ON r.id = t.repository_id JOIN manifests m ON m.id = t.manifest_id`

func (s *Store) tagHits(ctx context.Context, q string, args ...any) ([]meta.TagHit, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.TagHit{}, rows, func(row pgx.CollectableRow) (meta.TagHit, error) {
		var h meta.TagHit
		var d string
		var at int64
		err := row.Scan(&h.Repository, &h.Tag, &d, &at)
		h.Digest, h.PushedAt = digest.Digest(d), fromNanos(at)
		return h, err
	})
}

// SearchTags implements meta.BrowseStore.
func (s *Store) SearchTags(ctx context.Context, q string, limit int) ([]meta.TagHit, error) {
	return s.tagHits(ctx, tagHitCols+` WHERE lower(t.name) LIKE $1 ESCAPE '\' ORDER BY t.updated_at DESC LIMIT $2`,
		meta.LikeContains(q), limit)
}

// RecentTags implements meta.BrowseStore.
func (s *Store) RecentTags(ctx context.Context, limit int) ([]meta.TagHit, error) {
	return s.tagHits(ctx, tagHitCols+` ORDER BY t.updated_at DESC LIMIT $1`, limit)
}

// SearchDigests implements meta.BrowseStore.
func (s *Store) SearchDigests(ctx context.Context, prefix string, limit int) ([]meta.DigestHit, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.name, m.digest, m.media_type FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE m.digest >= $1 AND m.digest LIKE $2 ESCAPE '\' ORDER BY m.digest, r.name LIMIT $3`,
		prefix, meta.LikePrefix(prefix), limit)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.DigestHit{}, rows, func(row pgx.CollectableRow) (meta.DigestHit, error) {
		var h meta.DigestHit
		var d string
		err := row.Scan(&h.Repository, &d, &h.MediaType)
		h.Digest = digest.Digest(d)
		return h, err
	})
}

// CountRepositories implements meta.BrowseStore.
func (s *Store) CountRepositories(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT COUNT(*) FROM repositories`).Scan(&n)
	return n, err
}

// RecordPulls implements meta.BrowseStore, in one round trip. Rows are
// updated in a fixed order (the caller sorts), so two instances flushing
// at once cannot deadlock.
func (s *Store) RecordPulls(ctx context.Context, pulls []meta.Pull) error {
	if len(pulls) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, p := range pulls {
		at := nanos(p.At)
		b.Queue(`UPDATE repositories SET pull_count = pull_count + $1, pulled_at = greatest(pulled_at, $2) WHERE name = $3`,
			p.Count, at, p.Repository)
		b.Queue(`UPDATE manifests SET pulled_at = greatest(pulled_at, $1)
			WHERE repository_id = (SELECT id FROM repositories WHERE name = $2) AND digest = $3`, at, p.Repository, p.Digest.String())
	}
	return s.tx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() })
}
