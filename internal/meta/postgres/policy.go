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

// keepRuns is how many retention runs are kept per project.
const keepRuns = 50

// ImmutableRules implements meta.PolicyStore.
func (s *Store) ImmutableRules(ctx context.Context, project string) ([]meta.ImmutableRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, repositories, tags, created_at FROM immutable_rules
		WHERE project = $1 ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.ImmutableRule{}, rows, func(row pgx.CollectableRow) (meta.ImmutableRule, error) {
		r := meta.ImmutableRule{Project: project}
		var created int64
		err := row.Scan(&r.ID, &r.Repositories, &r.Tags, &created)
		r.CreatedAt = fromNanos(created)
		return r, err
	})
}

// AddImmutableRule implements meta.PolicyStore.
func (s *Store) AddImmutableRule(ctx context.Context, r meta.ImmutableRule) (meta.ImmutableRule, error) {
	t := now()
	err := s.pool.QueryRow(ctx, `INSERT INTO immutable_rules (project, repositories, tags, created_at) VALUES ($1, $2, $3, $4)
		RETURNING id`, r.Project, r.Repositories, r.Tags, t).Scan(&r.ID)
	r.CreatedAt = fromNanos(t)
	return r, err
}

// UpdateImmutableRule implements meta.PolicyStore.
func (s *Store) UpdateImmutableRule(ctx context.Context, r meta.ImmutableRule) error {
	tag, err := s.pool.Exec(ctx, `UPDATE immutable_rules SET repositories = $1, tags = $2 WHERE project = $3 AND id = $4`,
		r.Repositories, r.Tags, r.Project, r.ID)
	return changedOne(tag, err, fmt.Sprintf("immutability rule %d", r.ID))
}

// DeleteImmutableRule implements meta.PolicyStore.
func (s *Store) DeleteImmutableRule(ctx context.Context, project string, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM immutable_rules WHERE project = $1 AND id = $2`, project, id)
	return changedOne(tag, err, fmt.Sprintf("immutability rule %d", id))
}

func scanQuota(row pgx.Row, q *meta.Quota) error {
	var updated int64
	err := row.Scan(&q.Project, &q.StorageBytes, &q.Repositories, &q.Manifests, &updated)
	q.UpdatedAt = fromNanos(updated)
	return err
}

// Quota implements meta.PolicyStore.
func (s *Store) Quota(ctx context.Context, project string) (meta.Quota, error) {
	var q meta.Quota
	err := scanQuota(s.pool.QueryRow(ctx, `SELECT project, storage_bytes, repositories, manifests, updated_at
		FROM quotas WHERE project = $1`, project), &q)
	if err != nil {
		return meta.Quota{}, notFound(err, "quota of "+project)
	}
	return q, nil
}

// SetQuota implements meta.PolicyStore.
func (s *Store) SetQuota(ctx context.Context, q meta.Quota) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO quotas (project, storage_bytes, repositories, manifests, updated_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (project) DO UPDATE SET storage_bytes = excluded.storage_bytes,
		repositories = excluded.repositories, manifests = excluded.manifests, updated_at = excluded.updated_at`,
		q.Project, q.StorageBytes, q.Repositories, q.Manifests, now())
	return err
}

// DeleteQuota implements meta.PolicyStore.
func (s *Store) DeleteQuota(ctx context.Context, project string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM quotas WHERE project = $1`, project)
	return changedOne(tag, err, "quota of "+project)
}

// Quotas implements meta.PolicyStore.
func (s *Store) Quotas(ctx context.Context) ([]meta.Quota, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, storage_bytes, repositories, manifests, updated_at FROM quotas ORDER BY project`)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.Quota{}, rows, func(row pgx.CollectableRow) (meta.Quota, error) {
		var q meta.Quota
		return q, scanQuota(row, &q)
	})
}

// qUsage computes the usage of the repositories named $1 or in [$2, $3).
// A digest counts once however many repositories link or reference it:
// d is the project's distinct blob digests, joined with blobs once for
// their sizes; manifests whose digest is also such a blob add nothing.
const qUsage = `WITH pr(id) AS (
		SELECT id FROM repositories WHERE name = $1
		UNION ALL
		SELECT id FROM repositories WHERE name >= $2 AND name < $3
	),
	d(digest) AS MATERIALIZED (
		SELECT rb.digest FROM pr JOIN repository_blobs rb ON rb.repository_id = pr.id
		UNION
		SELECT mb.digest FROM pr JOIN manifests m ON m.repository_id = pr.id
			JOIN manifest_blobs mb ON mb.manifest_id = m.id
	),
	md(digest, size) AS (
		SELECT DISTINCT m.digest, m.size FROM pr JOIN manifests m ON m.repository_id = pr.id
	)
	SELECT bl.n, bl.bytes + (SELECT COALESCE(SUM(size), 0)::BIGINT FROM md WHERE NOT EXISTS (SELECT 1 FROM d WHERE d.digest = md.digest)),
		(SELECT COUNT(*) FROM pr JOIN manifests m ON m.repository_id = pr.id),
		(SELECT COUNT(*) FROM pr),
		(SELECT COUNT(*) FROM pr JOIN tags t ON t.repository_id = pr.id)
	FROM (SELECT COUNT(*) AS n, COALESCE(SUM(b.size), 0)::BIGINT AS bytes FROM d JOIN blobs b ON b.digest = d.digest) bl`

func (s *Store) usage(ctx context.Context, name, lo, hi string) (meta.Usage, error) {
	var u meta.Usage
	err := s.pool.QueryRow(ctx, qUsage, name, lo, hi).Scan(&u.Blobs, &u.StorageBytes, &u.Manifests, &u.Repositories, &u.Tags)
	return u, err
}

// ProjectUsage implements meta.PolicyStore.
func (s *Store) ProjectUsage(ctx context.Context, project string) (meta.Usage, error) {
	lo, hi := meta.ProjectBounds(project)
	return s.usage(ctx, project, lo, hi)
}

// RepositoryUsage implements meta.PolicyStore.
func (s *Store) RepositoryUsage(ctx context.Context, repo string) (meta.Usage, error) {
	return s.usage(ctx, repo, "", "")
}

// InProject implements meta.PolicyStore.
func (s *Store) InProject(ctx context.Context, project string, dgst digest.Digest) (bool, error) {
	lo, hi := meta.ProjectBounds(project)
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM repository_blobs x JOIN repositories r ON r.id = x.repository_id
			WHERE x.digest = $4 AND (r.name = $1 OR (r.name >= $2 AND r.name < $3)))
		OR EXISTS (SELECT 1 FROM manifests x JOIN repositories r ON r.id = x.repository_id
			WHERE x.digest = $4 AND (r.name = $1 OR (r.name >= $2 AND r.name < $3)))
		OR EXISTS (SELECT 1 FROM manifest_blobs x JOIN manifests m ON m.id = x.manifest_id JOIN repositories r ON r.id = m.repository_id
			WHERE x.digest = $4 AND (r.name = $1 OR (r.name >= $2 AND r.name < $3)))`,
		project, lo, hi, dgst.String()).Scan(&ok)
	return ok, err
}

// ProjectRepositories implements meta.PolicyStore.
func (s *Store) ProjectRepositories(ctx context.Context, project, last string, n int) ([]string, error) {
	lo, hi := meta.ProjectBounds(project)
	return s.strings(ctx, `SELECT name FROM repositories WHERE (name = $1 OR (name >= $2 AND name < $3)) AND name > $4
		ORDER BY name LIMIT $5`, project, lo, hi, last, limit(n))
}

func scanPolicy(row pgx.Row, p *meta.RetentionPolicy) error {
	var updated int64
	err := row.Scan(&p.Project, &p.Rules, &p.Schedule, &updated)
	p.UpdatedAt = fromNanos(updated)
	return err
}

// RetentionPolicy implements meta.PolicyStore.
func (s *Store) RetentionPolicy(ctx context.Context, project string) (meta.RetentionPolicy, error) {
	var p meta.RetentionPolicy
	err := scanPolicy(s.pool.QueryRow(ctx, `SELECT project, rules, schedule, updated_at FROM retention_policies
		WHERE project = $1`, project), &p)
	if err != nil {
		return meta.RetentionPolicy{}, notFound(err, "retention policy of "+project)
	}
	return p, nil
}

// SetRetentionPolicy implements meta.PolicyStore.
func (s *Store) SetRetentionPolicy(ctx context.Context, p meta.RetentionPolicy) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO retention_policies (project, rules, schedule, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project) DO UPDATE SET rules = excluded.rules, schedule = excluded.schedule, updated_at = excluded.updated_at`,
		p.Project, p.Rules, p.Schedule, now())
	return err
}

// DeleteRetentionPolicy implements meta.PolicyStore.
func (s *Store) DeleteRetentionPolicy(ctx context.Context, project string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM retention_policies WHERE project = $1`, project)
	return changedOne(tag, err, "retention policy of "+project)
}

// RetentionPolicies implements meta.PolicyStore.
func (s *Store) RetentionPolicies(ctx context.Context) ([]meta.RetentionPolicy, error) {
	rows, err := s.pool.Query(ctx, `SELECT project, rules, schedule, updated_at FROM retention_policies ORDER BY project`)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.RetentionPolicy{}, rows, func(row pgx.CollectableRow) (meta.RetentionPolicy, error) {
		var p meta.RetentionPolicy
		return p, scanPolicy(row, &p)
	})
}

// AddRetentionRun implements meta.PolicyStore.
func (s *Store) AddRetentionRun(ctx context.Context, r meta.RetentionRun) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO retention_runs (project, trigger, dry_run, started_at, finished_at, status, summary)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			r.Project, r.Trigger, r.DryRun, r.StartedAt.UnixNano(), r.FinishedAt.UnixNano(), r.Status, r.Summary).Scan(&id)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM retention_runs WHERE project = $1 AND id <=
			(SELECT id FROM retention_runs WHERE project = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`, r.Project, keepRuns)
		return err
	})
	return id, err
}

// RetentionRuns implements meta.PolicyStore.
func (s *Store) RetentionRuns(ctx context.Context, project string, n int) ([]meta.RetentionRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, trigger, dry_run, started_at, finished_at, status, summary FROM retention_runs
		WHERE project = $1 ORDER BY id DESC LIMIT $2`, project, limit(n))
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.RetentionRun{}, rows, func(row pgx.CollectableRow) (meta.RetentionRun, error) {
		r := meta.RetentionRun{Project: project}
		var started, finished int64
		err := row.Scan(&r.ID, &r.Trigger, &r.DryRun, &started, &finished, &r.Status, &r.Summary)
		r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
		return r, err
	})
}

// TagDetails implements meta.PolicyStore.
func (s *Store) TagDetails(ctx context.Context, repo string) ([]meta.TagDetail, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.name, m.digest, t.updated_at FROM tags t
		JOIN manifests m ON m.id = t.manifest_id
		WHERE t.repository_id = (SELECT id FROM repositories WHERE name = $1) ORDER BY t.name`, repo)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.TagDetail{}, rows, func(row pgx.CollectableRow) (meta.TagDetail, error) {
		var t meta.TagDetail
		var d string
		var pushed int64
		err := row.Scan(&t.Name, &d, &pushed)
		t.Digest, t.PushedAt = digest.Digest(d), fromNanos(pushed)
		return t, err
	})
}

// untagged is the condition on manifest m of UntaggedManifests.
const untagged = `NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
	AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
		WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)
	AND NOT (m.subject <> '' AND EXISTS (SELECT 1 FROM manifests s
		WHERE s.repository_id = m.repository_id AND s.digest = m.subject))`

// UntaggedManifests implements meta.PolicyStore.
func (s *Store) UntaggedManifests(ctx context.Context, repo string) ([]meta.UntaggedManifest, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.digest, m.created_at FROM manifests m
		WHERE m.repository_id = (SELECT id FROM repositories WHERE name = $1) AND `+untagged+` ORDER BY m.digest`, repo)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.UntaggedManifest{}, rows, func(row pgx.CollectableRow) (meta.UntaggedManifest, error) {
		var m meta.UntaggedManifest
		var d string
		var created int64
		err := row.Scan(&d, &created)
		m.Digest, m.PushedAt = digest.Digest(d), fromNanos(created)
		return m, err
	})
}

// DeleteTagIf implements meta.PolicyStore. The manifest id is found once;
// a concurrent push that moved the tag makes the row fail the re-check
// PostgreSQL does after waiting for its lock.
func (s *Store) DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error {
	var d, mediaType string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `DELETE FROM tags
			WHERE repository_id = (SELECT id FROM repositories WHERE name = $1) AND name = $2
			AND manifest_id = (SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id
				WHERE r.name = $1 AND m.digest = $3) RETURNING `+tagReturning, repo, tag, dgst.String()).Scan(&d, &mediaType)
		if err != nil {
			return err
		}
		return recordTagDeleted(ctx, tx, repo, tag, d, mediaType)
	})
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var cur string
	err = s.pool.QueryRow(ctx, `SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
		WHERE t.repository_id = (SELECT id FROM repositories WHERE name = $1) AND t.name = $2`, repo, tag).Scan(&cur)
	if err != nil {
		return notFound(err, "tag "+tag)
	}
	return fmt.Errorf("%w: tag %s was moved to %s", meta.ErrConflict, tag, cur)
}

// lockManifest locks a manifest's row FOR UPDATE and returns its id. A push
// that tags the manifest or lists it in an index holds it FOR KEY SHARE
// until it commits, so once this returns, the next statement sees every
// such push.
func lockManifest(ctx context.Context, tx pgx.Tx, repo string, dgst digest.Digest) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id
		WHERE r.name = $1 AND m.digest = $2 FOR UPDATE OF m`, repo, dgst.String()).Scan(&id)
	return id, notFound(err, "manifest "+dgst.String())
}

// DeleteUntaggedManifest implements meta.PolicyStore.
func (s *Store) DeleteUntaggedManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		id, err := lockManifest(ctx, tx, repo, dgst)
		if err != nil {
			return err
		}
		var mediaType string
		err = tx.QueryRow(ctx, `DELETE FROM manifests AS m WHERE m.id = $1 AND `+untagged+` RETURNING media_type`, id).Scan(&mediaType)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: manifest %s is tagged or referenced", meta.ErrConflict, dgst)
		} else if err != nil {
			return err
		}
		return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
	})
}

// PutManifestGuarded implements meta.PolicyStore.
func (s *Store) PutManifestGuarded(ctx context.Context, m *meta.Manifest, tags, immutable []string) error {
	return s.putManifest(ctx, m, tags, immutable)
}

// upsertTags points tags at manifest id, except the tags in immutable that
// point at another manifest: the conditional DO UPDATE skips them (also
// when a concurrent push created them first: the condition is checked on
// the row it committed), and the first one skipped is reported.
func upsertTags(ctx context.Context, tx pgx.Tx, repoID int64, tags []string, id int64, immutable []string) error {
	if len(immutable) == 0 {
		_, err := tx.Exec(ctx, `INSERT INTO tags (repository_id, name, manifest_id, updated_at)
			SELECT $1, name, $3, $4 FROM unnest($2::text[]) AS name
			ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at`,
			repoID, tags, id, now())
		return err
	}
	rows, err := tx.Query(ctx, `INSERT INTO tags (repository_id, name, manifest_id, updated_at)
		SELECT $1, name, $3, $4 FROM unnest($2::text[]) AS name
		ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at
		WHERE tags.manifest_id = excluded.manifest_id OR NOT (excluded.name = ANY ($5::text[]))
		RETURNING name`, repoID, tags, id, now(), immutable)
	if err != nil {
		return err
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, t := range tags {
		if !slices.Contains(done, t) {
			return &meta.ImmutableTagError{Tag: t}
		}
	}
	return nil
}

// DeleteManifestChecked implements meta.PolicyStore.
func (s *Store) DeleteManifestChecked(ctx context.Context, repo string, dgst digest.Digest, check func(tags []string) error) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		id, err := lockManifest(ctx, tx, repo, dgst)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT name FROM tags WHERE manifest_id = $1 ORDER BY name`, id)
		if err != nil {
			return err
		}
		tags, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if err := check(tags); err != nil {
			return err
		}
		var mediaType string
		if err := tx.QueryRow(ctx, `DELETE FROM manifests WHERE id = $1 RETURNING media_type`, id).Scan(&mediaType); err != nil {
			return err
		}
		return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
	})
}
