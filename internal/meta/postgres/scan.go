package postgres

import (
	"context"
	"errors"
	"github.com/jackc/pgx/v5"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// PutScanPackages implements meta.ScanStore.
func (s *Store) PutScanPackages(ctx context.Context, p meta.ScanPackages) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO scan_packages (digest, extractor, extracted_at, data) VALUES ($1, $2, $3, $4)
			ON CONFLICT (digest) DO UPDATE SET extractor = excluded.extractor, extracted_at = excluded.extracted_at, data = excluded.data`,
			p.Digest.String(), p.Extractor, p.ExtractedAt.UnixNano(), p.Data)
		return err
	})
}

// GetScanPackages implements meta.ScanStore.
func (s *Store) GetScanPackages(ctx context.Context, dgst digest.Digest) (meta.ScanPackages, error) {
	p := meta.ScanPackages{Digest: dgst}
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT extractor, extracted_at, data FROM scan_packages WHERE digest = $1`, dgst.String()).
		Scan(&p.Extractor, &at, &p.Data)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, meta.ErrNotFound
	}
	p.ExtractedAt = fromNanos(at)
	return p, err
}

// ScanPackageDigests implements meta.ScanStore.
func (s *Store) ScanPackageDigests(ctx context.Context, after digest.Digest, limit int) ([]digest.Digest, error) {
	rows, err := s.pool.Query(ctx, `SELECT digest FROM scan_packages WHERE digest > $1 ORDER BY digest LIMIT $2`, after.String(), limit)
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

// PutScanResult implements meta.ScanStore.
func (s *Store) PutScanResult(ctx context.Context, r meta.ScanResult) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO scan_results (digest, scanner, db_version, status, severity, max_cvss, worst,
			findings, scanned_at, error, summary, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (digest) DO UPDATE SET scanner = excluded.scanner, db_version = excluded.db_version,
			status = excluded.status, severity = excluded.severity, max_cvss = excluded.max_cvss, worst = excluded.worst,
			findings = excluded.findings, scanned_at = excluded.scanned_at, error = excluded.error,
			summary = excluded.summary, report = excluded.report`,
			r.Digest.String(), r.Scanner, r.DBVersion, r.Status, r.Severity, r.MaxCVSS, r.Worst, r.Findings,
			r.ScannedAt.UnixNano(), r.Error, nonNil(r.Summary), nonNil(r.Report))
		return err
	})
}

// GetScanResult implements meta.ScanStore.
func (s *Store) GetScanResult(ctx context.Context, dgst digest.Digest, report bool) (meta.ScanResult, error) {
	r := meta.ScanResult{Digest: dgst}
	var at int64
	cols := `scanner, db_version, status, severity, max_cvss, worst, findings, scanned_at, error, summary`
	dst := []any{&r.Scanner, &r.DBVersion, &r.Status, &r.Severity, &r.MaxCVSS, &r.Worst, &r.Findings, &at, &r.Error, &r.Summary}
	if report {
		cols += `, report`
		dst = append(dst, &r.Report)
	}
	err := s.pool.QueryRow(ctx, `SELECT `+cols+` FROM scan_results WHERE digest = $1`, dgst.String()).Scan(dst...)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, meta.ErrNotFound
	}
	r.ScannedAt = fromNanos(at)
	return r, err
}

// ScanPolicy implements meta.ScanStore.
func (s *Store) ScanPolicy(ctx context.Context, project string) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM scan_policies WHERE project = $1`, project).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, meta.ErrNotFound
	}
	return data, err
}

// PutScanPolicy implements meta.ScanStore.
func (s *Store) PutScanPolicy(ctx context.Context, project string, data []byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO scan_policies (project, data) VALUES ($1, $2)
			ON CONFLICT (project) DO UPDATE SET data = excluded.data`, project, nonNil(data))
		return err
	})
}

// nonNil keeps NOT NULL blob columns satisfied.
