package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// bumpSigning increments a project's signature policy version.
const bumpSigning = `INSERT INTO signing_versions (project, version) VALUES (?, 1)
	ON CONFLICT (project) DO UPDATE SET version = version + 1`

// SigningRules implements meta.SigningStore.
func (s *Store) SigningRules(ctx context.Context, project string) ([]meta.SigningRule, error) {
	rows, err := s.readRows(ctx, `SELECT id, repositories, mode, spec, created_at, updated_at FROM signing_rules
		WHERE project = ? ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.SigningRule{}
	for rows.Next() {
		r := meta.SigningRule{Project: project}
		var created, updated int64
		if err := rows.Scan(&r.ID, &r.Repositories, &r.Mode, &r.Spec, &created, &updated); err != nil {
			return nil, err
		}
		r.CreatedAt, r.UpdatedAt = fromNanos(created), fromNanos(updated)
		out = append(out, r)
	}
	return out, rows.Err()
}

// AddSigningRule implements meta.SigningStore.
func (s *Store) AddSigningRule(ctx context.Context, r meta.SigningRule) (meta.SigningRule, error) {
	t := now()
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO signing_rules (project, repositories, mode, spec, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, r.Project, r.Repositories, r.Mode, r.Spec, t, t)
		if err != nil {
			return err
		}
		if r.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpSigning, r.Project)
		return err
	})
	r.CreatedAt, r.UpdatedAt = fromNanos(t), fromNanos(t)
	return r, err
}

// UpdateSigningRule implements meta.SigningStore.
func (s *Store) UpdateSigningRule(ctx context.Context, r meta.SigningRule) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE signing_rules SET repositories = ?, mode = ?, spec = ?, updated_at = ?
			WHERE project = ? AND id = ?`, r.Repositories, r.Mode, r.Spec, now(), r.Project, r.ID)
		if err := changedOne(res, err, fmt.Sprintf("signing rule %d", r.ID)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpSigning, r.Project)
		return err
	})
}

// DeleteSigningRule implements meta.SigningStore.
func (s *Store) DeleteSigningRule(ctx context.Context, project string, id int64) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM signing_rules WHERE project = ? AND id = ?`, project, id)
		if err := changedOne(res, err, fmt.Sprintf("signing rule %d", id)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpSigning, project)
		return err
	})
}

// TrustMaterials implements meta.SigningStore.
func (s *Store) TrustMaterials(ctx context.Context, project string) ([]meta.TrustMaterial, error) {
	rows, err := s.readRows(ctx, `SELECT id, name, kind, data, created_at FROM trust_materials
		WHERE project = ? ORDER BY id`, project)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.TrustMaterial{}
	for rows.Next() {
		m := meta.TrustMaterial{Project: project}
		var created int64
		if err := rows.Scan(&m.ID, &m.Name, &m.Kind, &m.Data, &created); err != nil {
			return nil, err
		}
		m.CreatedAt = fromNanos(created)
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddTrustMaterial implements meta.SigningStore.
func (s *Store) AddTrustMaterial(ctx context.Context, m meta.TrustMaterial) (meta.TrustMaterial, error) {
	t := now()
	err := s.tx(ctx, func(tx wtx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM trust_materials WHERE project = ? AND name = ?`, m.Project, m.Name).Scan(&one)
		if err == nil {
			return fmt.Errorf("%w: trust material %q exists", meta.ErrConflict, m.Name)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO trust_materials (project, name, kind, data, created_at) VALUES (?, ?, ?, ?, ?)`,
			m.Project, m.Name, m.Kind, m.Data, t)
		if err != nil {
			return err
		}
		if m.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpSigning, m.Project)
		return err
	})
	m.CreatedAt = fromNanos(t)
	return m, err
}

// DeleteTrustMaterial implements meta.SigningStore.
func (s *Store) DeleteTrustMaterial(ctx context.Context, project string, id int64) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM trust_materials WHERE project = ? AND id = ?`, project, id)
		if err := changedOne(res, err, fmt.Sprintf("trust material %d", id)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, bumpSigning, project)
		return err
	})
}

// SigningVersion implements meta.SigningStore.
func (s *Store) SigningVersion(ctx context.Context, project string) (int64, error) {
	var v int64
	err := s.readRow(ctx, `SELECT version FROM signing_versions WHERE project = ?`, project).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// SignatureCheck implements meta.SigningStore: one query over two primary keys.
func (s *Store) SignatureCheck(ctx context.Context, project, repo string, dgst digest.Digest) (int64, meta.SignatureResult, bool, error) {
	r := meta.SignatureResult{Repository: repo, Digest: dgst}
	var version int64
	var rv, verified sql.NullInt64
	var result sql.NullString
	err := s.readRow(ctx, `SELECT COALESCE((SELECT version FROM signing_versions WHERE project = ?1), 0),
		r.version, r.result, r.verified_at
		FROM (SELECT 1) LEFT JOIN signature_results r ON r.repository = ?2 AND r.digest = ?3`,
		project, repo, dgst.String()).Scan(&version, &rv, &result, &verified)
	if err != nil {
		return 0, r, false, err
	}
	if !rv.Valid {
		return version, r, false, nil
	}
	r.Version, r.Result, r.VerifiedAt = rv.Int64, result.String, fromNanos(verified.Int64)
	return version, r, true, nil
}

// PutSignatureResult implements meta.SigningStore.
func (s *Store) PutSignatureResult(ctx context.Context, r meta.SignatureResult) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO signature_results (repository, digest, version, result, verified_at)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (repository, digest) DO UPDATE SET version = excluded.version,
		result = excluded.result, verified_at = excluded.verified_at`,
		r.Repository, r.Digest.String(), r.Version, r.Result, r.VerifiedAt.UnixNano())
	return err
}

// DeleteSignatureResults implements meta.SigningStore.
func (s *Store) DeleteSignatureResults(ctx context.Context, repo string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM signature_results WHERE repository = ?`, repo)
	return err
}

// IndexesListing implements meta.SigningStore.
func (s *Store) IndexesListing(ctx context.Context, repo string, child digest.Digest) ([]digest.Digest, error) {
	rows, err := s.readRows(ctx, `SELECT m.digest FROM manifest_children c
		JOIN manifests m ON m.id = c.manifest_id
		JOIN repositories r ON r.id = m.repository_id
		WHERE c.child_digest = ? AND r.name = ? ORDER BY m.digest`, child.String(), repo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []digest.Digest
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		out = append(out, digest.Digest(d))
	}
	return out, rows.Err()
}

// SignatureResultsOf implements meta.SigningStore.
func (s *Store) SignatureResultsOf(ctx context.Context, project string, n int) ([]meta.SignatureResult, error) {
	lo, hi := meta.ProjectBounds(project)
	rows, err := s.readRows(ctx, `SELECT repository, digest, version FROM signature_results
		WHERE repository = ? OR (repository >= ? AND repository < ?) ORDER BY repository, digest LIMIT ?`, project, lo, hi, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.SignatureResult
	for rows.Next() {
		var r meta.SignatureResult
		var d string
		if err := rows.Scan(&r.Repository, &d, &r.Version); err != nil {
			return nil, err
		}
		r.Digest = digest.Digest(d)
		out = append(out, r)
	}
	return out, rows.Err()
}
