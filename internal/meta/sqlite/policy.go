package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// keepRuns is how many retention runs are kept per project.
const keepRuns = 50

// ImmutableRules implements meta.PolicyStore.
func (s *Store) ImmutableRules(ctx context.Context, project string) ([]meta.ImmutableRule, error) {
	rows, err := s.readRows(ctx, `SELECT id, repositories, tags, created_at FROM immutable_rules
		WHERE project = ? ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.ImmutableRule{}
	for rows.Next() {
		r := meta.ImmutableRule{Project: project}
		var created int64
		if err := rows.Scan(&r.ID, &r.Repositories, &r.Tags, &created); err != nil {
			return nil, err
		}
		r.CreatedAt = fromNanos(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddImmutableRule implements meta.PolicyStore.
func (s *Store) AddImmutableRule(ctx context.Context, r meta.ImmutableRule) (meta.ImmutableRule, error) {
	t := now()
	res, err := s.w.ExecContext(ctx, `INSERT INTO immutable_rules (project, repositories, tags, created_at) VALUES (?, ?, ?, ?)`,
		r.Project, r.Repositories, r.Tags, t)
	if err != nil {
		return r, err
	}
	r.ID, err = res.LastInsertId()
	r.CreatedAt = fromNanos(t)
	return r, err
}

// UpdateImmutableRule implements meta.PolicyStore.
func (s *Store) UpdateImmutableRule(ctx context.Context, r meta.ImmutableRule) error {
	res, err := s.w.ExecContext(ctx, `UPDATE immutable_rules SET repositories = ?, tags = ? WHERE project = ? AND id = ?`,
		r.Repositories, r.Tags, r.Project, r.ID)
	return changedOne(res, err, fmt.Sprintf("immutability rule %d", r.ID))
}

// DeleteImmutableRule implements meta.PolicyStore.
func (s *Store) DeleteImmutableRule(ctx context.Context, project string, id int64) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM immutable_rules WHERE project = ? AND id = ?`, project, id)
	return changedOne(res, err, fmt.Sprintf("immutability rule %d", id))
}

// Quota implements meta.PolicyStore.
func (s *Store) Quota(ctx context.Context, project string) (meta.Quota, error) {
	q := meta.Quota{Project: project}
	var updated int64
	err := s.readRow(ctx, `SELECT storage_bytes, repositories, manifests, updated_at FROM quotas WHERE project = ?`, project).
		Scan(&q.StorageBytes, &q.Repositories, &q.Manifests, &updated)
	if err != nil {
		return meta.Quota{}, notFound(err, "quota of "+project)
	}
	q.UpdatedAt = fromNanos(updated)
	return q, nil
}

// SetQuota implements meta.PolicyStore.
func (s *Store) SetQuota(ctx context.Context, q meta.Quota) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO quotas (project, storage_bytes, repositories, manifests, updated_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (project) DO UPDATE SET storage_bytes = excluded.storage_bytes,
		repositories = excluded.repositories, manifests = excluded.manifests, updated_at = excluded.updated_at`,
		q.Project, q.StorageBytes, q.Repositories, q.Manifests, now())
	return err
}

// DeleteQuota implements meta.PolicyStore.
func (s *Store) DeleteQuota(ctx context.Context, project string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM quotas WHERE project = ?`, project)
	return changedOne(res, err, "quota of "+project)
}

// Quotas implements meta.PolicyStore.
func (s *Store) Quotas(ctx context.Context) ([]meta.Quota, error) {
	rows, err := s.readRows(ctx, `SELECT project, storage_bytes, repositories, manifests, updated_at FROM quotas ORDER BY project`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.Quota{}
	for rows.Next() {
		var q meta.Quota
		var updated int64
		if err := rows.Scan(&q.Project, &q.StorageBytes, &q.Repositories, &q.Manifests, &updated); err != nil {
			return nil, err
		}
		q.UpdatedAt = fromNanos(updated)
		out = append(out, q)
	}
	return out, rows.Err()
}

// qUsage computes the usage of the repositories named ?1 or in [?2, ?3).
// A digest counts once however many repositories link or reference it.
// CROSS JOIN fixes the join order (repositories, then their rows), so the
// cost follows the size of the project, not of the registry; d, the
// project's distinct blob digests, is computed once.
const qUsage = `WITH pr(id) AS (
		SELECT id FROM repositories WHERE name = ?1
		UNION ALL
		SELECT id FROM repositories WHERE name >= ?2 AND name < ?3
	),
	d(digest) AS MATERIALIZED (
		SELECT rb.digest FROM pr CROSS JOIN repository_blobs rb ON rb.repository_id = pr.id
		UNION
		SELECT mb.digest FROM pr CROSS JOIN manifests m ON m.repository_id = pr.id
			CROSS JOIN manifest_blobs mb ON mb.manifest_id = m.id
	),
	md(digest, size) AS (
		SELECT DISTINCT m.digest, m.size FROM pr CROSS JOIN manifests m ON m.repository_id = pr.id
	)
	SELECT bl.n, bl.bytes + (SELECT COALESCE(SUM(size), 0) FROM md WHERE digest NOT IN (SELECT digest FROM d)),
		(SELECT COUNT(*) FROM pr CROSS JOIN manifests m ON m.repository_id = pr.id),
		(SELECT COUNT(*) FROM pr),
		(SELECT COUNT(*) FROM pr CROSS JOIN tags t ON t.repository_id = pr.id)
	FROM (SELECT COUNT(*) AS n, COALESCE(SUM(b.size), 0) AS bytes FROM d CROSS JOIN blobs b ON b.digest = d.digest) bl`

func (s *Store) usage(ctx context.Context, name, lo, hi string) (meta.Usage, error) {
	var u meta.Usage
	err := s.readRow(ctx, qUsage, name, lo, hi).Scan(&u.Blobs, &u.StorageBytes, &u.Manifests, &u.Repositories, &u.Tags)
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
	err := s.readRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM repository_blobs x JOIN repositories r ON r.id = x.repository_id
			WHERE x.digest = ?4 AND (r.name = ?1 OR (r.name >= ?2 AND r.name < ?3)))
		OR EXISTS (SELECT 1 FROM manifests x JOIN repositories r ON r.id = x.repository_id
			WHERE x.digest = ?4 AND (r.name = ?1 OR (r.name >= ?2 AND r.name < ?3)))
		OR EXISTS (SELECT 1 FROM manifest_blobs x JOIN manifests m ON m.id = x.manifest_id JOIN repositories r ON r.id = m.repository_id
			WHERE x.digest = ?4 AND (r.name = ?1 OR (r.name >= ?2 AND r.name < ?3)))`,
		project, lo, hi, dgst.String()).Scan(&ok)
	return ok, err
}

// ProjectRepositories implements meta.PolicyStore.
func (s *Store) ProjectRepositories(ctx context.Context, project, last string, n int) ([]string, error) {
	lo, hi := meta.ProjectBounds(project)
	return s.strings(ctx, `SELECT name FROM repositories WHERE (name = ?1 OR (name >= ?2 AND name < ?3)) AND name > ?4
		ORDER BY name LIMIT ?5`, project, lo, hi, last, n)
}

// RetentionPolicy implements meta.PolicyStore.
func (s *Store) RetentionPolicy(ctx context.Context, project string) (meta.RetentionPolicy, error) {
	p := meta.RetentionPolicy{Project: project}
	var updated int64
	err := s.readRow(ctx, `SELECT rules, schedule, updated_at FROM retention_policies WHERE project = ?`, project).
		Scan(&p.Rules, &p.Schedule, &updated)
	if err != nil {
		return meta.RetentionPolicy{}, notFound(err, "retention policy of "+project)
	}
	p.UpdatedAt = fromNanos(updated)
	return p, nil
}

// SetRetentionPolicy implements meta.PolicyStore.
func (s *Store) SetRetentionPolicy(ctx context.Context, p meta.RetentionPolicy) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO retention_policies (project, rules, schedule, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (project) DO UPDATE SET rules = excluded.rules, schedule = excluded.schedule, updated_at = excluded.updated_at`,
		p.Project, p.Rules, p.Schedule, now())
	return err
}

// DeleteRetentionPolicy implements meta.PolicyStore.
func (s *Store) DeleteRetentionPolicy(ctx context.Context, project string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM retention_policies WHERE project = ?`, project)
	return changedOne(res, err, "retention policy of "+project)
}

// RetentionPolicies implements meta.PolicyStore.
func (s *Store) RetentionPolicies(ctx context.Context) ([]meta.RetentionPolicy, error) {
	rows, err := s.readRows(ctx, `SELECT project, rules, schedule, updated_at FROM retention_policies ORDER BY project`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.RetentionPolicy{}
	for rows.Next() {
		var p meta.RetentionPolicy
		var updated int64
		if err := rows.Scan(&p.Project, &p.Rules, &p.Schedule, &updated); err != nil {
			return nil, err
		}
		p.UpdatedAt = fromNanos(updated)
		out = append(out, p)
	}
	return out, rows.Err()
}

// AddRetentionRun implements meta.PolicyStore.
func (s *Store) AddRetentionRun(ctx context.Context, r meta.RetentionRun) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO retention_runs (project, trigger, dry_run, started_at, finished_at, status, summary)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, r.Project, r.Trigger, r.DryRun, r.StartedAt.UnixNano(), r.FinishedAt.UnixNano(), r.Status, r.Summary)
		if err != nil {
			return err
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM retention_runs WHERE project = ?1 AND id <=
			(SELECT id FROM retention_runs WHERE project = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)`, r.Project, keepRuns)
		return err
	})
	return id, err
}

// RetentionRuns implements meta.PolicyStore.
func (s *Store) RetentionRuns(ctx context.Context, project string, n int) ([]meta.RetentionRun, error) {
	rows, err := s.readRows(ctx, `SELECT id, trigger, dry_run, started_at, finished_at, status, summary FROM retention_runs
		WHERE project = ? ORDER BY id DESC LIMIT ?`, project, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.RetentionRun{}
	for rows.Next() {
		r := meta.RetentionRun{Project: project}
		var started, finished int64
		if err := rows.Scan(&r.ID, &r.Trigger, &r.DryRun, &started, &finished, &r.Status, &r.Summary); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = fromNanos(started), fromNanos(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// TagDetails implements meta.PolicyStore.
func (s *Store) TagDetails(ctx context.Context, repo string) ([]meta.TagDetail, error) {
	rows, err := s.readRows(ctx, `SELECT t.name, m.digest, t.updated_at FROM tags t
		JOIN manifests m ON m.id = t.manifest_id
		WHERE t.repository_id = (SELECT id FROM repositories WHERE name = ?) ORDER BY t.name`, repo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.TagDetail{}
	for rows.Next() {
		var t meta.TagDetail
		var d string
		var pushed int64
		if err := rows.Scan(&t.Name, &d, &pushed); err != nil {
			return nil, err
		}
		t.Digest, t.PushedAt = digest.Digest(d), fromNanos(pushed)
		out = append(out, t)
	}
	return out, rows.Err()
}

// untagged is the condition on manifest m of UntaggedManifests.
const untagged = `NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
	AND NOT EXISTS (SELECT 1 FROM manifest_children c JOIN manifests p ON p.id = c.manifest_id
		WHERE c.child_digest = m.digest AND p.repository_id = m.repository_id)
	AND NOT (m.subject <> '' AND EXISTS (SELECT 1 FROM manifests s
		WHERE s.repository_id = m.repository_id AND s.digest = m.subject))`

// UntaggedManifests implements meta.PolicyStore.
func (s *Store) UntaggedManifests(ctx context.Context, repo string) ([]meta.UntaggedManifest, error) {
	rows, err := s.readRows(ctx, `SELECT m.digest, m.created_at FROM manifests m
		WHERE m.repository_id = (SELECT id FROM repositories WHERE name = ?) AND `+untagged+` ORDER BY m.digest`, repo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.UntaggedManifest{}
	for rows.Next() {
		var m meta.UntaggedManifest
		var d string
		var created int64
		if err := rows.Scan(&d, &created); err != nil {
			return nil, err
		}
		m.Digest, m.PushedAt = digest.Digest(d), fromNanos(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// DeleteTagIf implements meta.PolicyStore.
func (s *Store) DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error {
	return s.tx(ctx, func(tx wtx) error {
		var cur string
		err := tx.QueryRowContext(ctx, `SELECT m.digest FROM tags t JOIN manifests m ON m.id = t.manifest_id
			WHERE t.repository_id = (SELECT id FROM repositories WHERE name = ?) AND t.name = ?`, repo, tag).Scan(&cur)
		if err != nil {
			return notFound(err, "tag "+tag)
		}
		if cur != dgst.String() {
			return fmt.Errorf("%w: tag %s was moved to %s", meta.ErrConflict, tag, cur)
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `DELETE FROM tags
			WHERE repository_id = (SELECT id FROM repositories WHERE name = ?) AND name = ? RETURNING manifest_id`,
			repo, tag).Scan(&id); err != nil {
			return err
		}
		return recordTagDeleted(ctx, tx, repo, tag, id)
	})
}

// DeleteUntaggedManifest implements meta.PolicyStore.
func (s *Store) DeleteUntaggedManifest(ctx context.Context, repo string, dgst digest.Digest) error {
	return s.tx(ctx, func(tx wtx) error {
		var mediaType string
		err := tx.QueryRowContext(ctx, `DELETE FROM manifests AS m
			WHERE m.repository_id = (SELECT id FROM repositories WHERE name = ?) AND m.digest = ? AND `+untagged+`
			RETURNING media_type`, repo, dgst.String()).Scan(&mediaType)
		if err == nil {
			return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM manifests m JOIN repositories r ON r.id = m.repository_id
			WHERE r.name = ? AND m.digest = ?`, repo, dgst.String()).Scan(&one)
		if err != nil {
			return notFound(err, "manifest "+dgst.String())
		}
		return fmt.Errorf("%w: manifest %s is tagged or referenced", meta.ErrConflict, dgst)
	})
}

// PutManifestGuarded implements meta.PolicyStore.
func (s *Store) PutManifestGuarded(ctx context.Context, m *meta.Manifest, tags, immutable []string) error {
	return s.putManifest(ctx, m, tags, immutable)
}

// DeleteManifestChecked implements meta.PolicyStore.
func (s *Store) DeleteManifestChecked(ctx context.Context, repo string, dgst digest.Digest, check func(tags []string) error) error {
	return s.tx(ctx, func(tx wtx) error {
		var id int64
		err := tx.QueryRowContext(ctx, `SELECT m.id FROM manifests m JOIN repositories r ON r.id = m.repository_id
			WHERE r.name = ? AND m.digest = ?`, repo, dgst.String()).Scan(&id)
		if err != nil {
			return notFound(err, "manifest "+dgst.String())
		}
		tags, err := scanStrings(tx.QueryContext(ctx, `SELECT name FROM tags WHERE manifest_id = ? ORDER BY name`, id))
		if err != nil {
			return err
		}
		if err := check(tags); err != nil {
			return err
		}
		var mediaType string
		if err := tx.QueryRowContext(ctx, `DELETE FROM manifests WHERE id = ? RETURNING media_type`, id).Scan(&mediaType); err != nil {
			return err
		}
		return recordManifestDeleted(ctx, tx, repo, dgst, mediaType)
	})
}
