package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// bumpSigning increments a project's signature policy version.
const bumpSigning = `INSERT INTO signing_versions (project, version) VALUES ($1, 1)
	ON CONFLICT (project) DO UPDATE SET version = signing_versions.version + 1`

// SigningRules implements meta.SigningStore.
func (s *Store) SigningRules(ctx context.Context, project string) ([]meta.SigningRule, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, repositories, mode, spec, created_at, updated_at FROM signing_rules
		WHERE project = $1 ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.SigningRule{}, rows, func(row pgx.CollectableRow) (meta.SigningRule, error) {
		r := meta.SigningRule{Project: project}
		var created, updated int64
		err := row.Scan(&r.ID, &r.Repositories, &r.Mode, &r.Spec, &created, &updated)
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		return r, err
	})
}

// AddSigningRule implements meta.SigningStore.
func (s *Store) AddSigningRule(ctx context.Context, r meta.SigningRule) (meta.SigningRule, error) {
	t := now()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO signing_rules (project, repositories, mode, spec, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) RETURNING id`, r.Project, r.Repositories, r.Mode, r.Spec, t).Scan(&r.ID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, bumpSigning, r.Project)
		return err
	})
	r.CreatedAt, r.UpdatedAt = fromNanos(t), fromNanos(t)
	return r, err
}

// UpdateSigningRule implements meta.SigningStore.
func (s *Store) UpdateSigningRule(ctx context.Context, r meta.SigningRule) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE signing_rules SET repositories = $1, mode = $2, spec = $3, updated_at = $4
			WHERE project = $5 AND id = $6`, r.Repositories, r.Mode, r.Spec, now(), r.Project, r.ID)
		if err := changedOne(tag, err, fmt.Sprintf("signing rule %d", r.ID)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, bumpSigning, r.Project)
		return err
	})
}

// DeleteSigningRule implements meta.SigningStore.
func (s *Store) DeleteSigningRule(ctx context.Context, project string, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM signing_rules WHERE project = $1 AND id = $2`, project, id)
		if err := changedOne(tag, err, fmt.Sprintf("signing rule %d", id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, bumpSigning, project)
		return err
	})
}

// TrustMaterials implements meta.SigningStore.
func (s *Store) TrustMaterials(ctx context.Context, project string) ([]meta.TrustMaterial, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, kind, data, created_at FROM trust_materials
		WHERE project = $1 ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.TrustMaterial{}, rows, func(row pgx.CollectableRow) (meta.TrustMaterial, error) {
		m := meta.TrustMaterial{Project: project}
		var created int64
		err := row.Scan(&m.ID, &m.Name, &m.Kind, &m.Data, &created)
		m.CreatedAt = fromNanos(created)
		return m, err
	})
}

// AddTrustMaterial implements meta.SigningStore.
func (s *Store) AddTrustMaterial(ctx context.Context, m meta.TrustMaterial) (meta.TrustMaterial, error) {
	t := now()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO trust_materials (project, name, kind, data, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (project, name) DO NOTHING RETURNING id`, m.Project, m.Name, m.Kind, m.Data, t).Scan(&m.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: trust material %q exists", meta.ErrConflict, m.Name)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, bumpSigning, m.Project)
		return err
	})
	m.CreatedAt = fromNanos(t)
	return m, err
}

// DeleteTrustMaterial implements meta.SigningStore.
func (s *Store) DeleteTrustMaterial(ctx context.Context, project string, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM trust_materials WHERE project = $1 AND id = $2`, project, id)
		if err := changedOne(tag, err, fmt.Sprintf("trust material %d", id)); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, bumpSigning, project)
		return err
	})
}

// SigningVersion implements meta.SigningStore.
func (s *Store) SigningVersion(ctx context.Context, project string) (int64, error) {
	var v int64
	err := s.pool.QueryRow(ctx, `SELECT version FROM signing_versions WHERE project = $1`, project).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// SignatureCheck implements meta.SigningStore: one query over two primary keys.
func (s *Store) SignatureCheck(ctx context.Context, project, repo string, dgst digest.Digest) (int64, meta.SignatureResult, bool, error) {
	r := meta.SignatureResult{Repository: repo, Digest: dgst}
	var version int64
	var rv, verified *int64
	var result *string
	err := s.pool.QueryRow(ctx, `SELECT COALESCE((SELECT version FROM signing_versions WHERE project = $1), 0),
		r.version, r.result, r.verified_at
		FROM (SELECT 1) AS one LEFT JOIN signature_results r ON r.repository = $2 AND r.digest = $3`,
		project, repo, dgst.String()).Scan(&version, &rv, &result, &verified)
	if err != nil {
		return 0, r, false, err
	}
	if rv == nil {
		return version, r, false, nil
	}
	r.Version, r.Result, r.VerifiedAt = *rv, *result, fromNanos(*verified)
	return version, r, true, nil
}

// PutSignatureResult implements meta.SigningStore.
func (s *Store) PutSignatureResult(ctx context.Context, r meta.SignatureResult) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signature_results (repository, digest, version, result, verified_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository, digest) DO UPDATE SET version = excluded.version,
		result = excluded.result, verified_at = excluded.verified_at`,
		r.Repository, r.Digest.String(), r.Version, r.Result, r.VerifiedAt.UnixNano())
	return err
}

// DeleteSignatureResults implements meta.SigningStore.
func (s *Store) DeleteSignatureResults(ctx context.Context, repo string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM signature_results WHERE repository = $1`, repo)
	return err
}

// IndexesListing implements meta.SigningStore.
func (s *Store) IndexesListing(ctx context.Context, repo string, child digest.Digest) ([]digest.Digest, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.digest FROM manifest_children c
		JOIN manifests m ON m.id = c.manifest_id
		JOIN repositories r ON r.id = m.repository_id
		WHERE c.child_digest = $1 AND r.name = $2 ORDER BY m.digest`, child.String(), repo)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]digest.Digest(nil), rows, func(row pgx.CollectableRow) (digest.Digest, error) {
		var d string
		err := row.Scan(&d)
		return digest.Digest(d), err
	})
}

// SignatureResultsOf implements meta.SigningStore.
func (s *Store) SignatureResultsOf(ctx context.Context, project string, n int) ([]meta.SignatureResult, error) {
	lo, hi := meta.ProjectBounds(project)
	rows, err := s.pool.Query(ctx, `SELECT repository, digest, version FROM signature_results
		WHERE repository = $1 OR (repository >= $2 AND repository < $3) ORDER BY repository, digest LIMIT $4`, project, lo, hi, n)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.SignatureResult(nil), rows, func(row pgx.CollectableRow) (meta.SignatureResult, error) {
		var r meta.SignatureResult
		var d string
		err := row.Scan(&r.Repository, &d, &r.Version)
		r.Digest = digest.Digest(d)
		return r, err
	})
}
