package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

const jobColumns = `lease_owner, lease_until, running, progress, requested_at, request, started_at, finished_at, report`

func scanJob(row interface{ Scan(...any) error }, name string) (meta.Job, error) {
	j := meta.Job{Name: name}
	var until, requested, started, finished int64
	err := row.Scan(&j.Owner, &until, &j.Running, &j.Progress, &requested, &j.Request, &started, &finished, &j.Report)
	if err != nil {
		return meta.Job{Name: name}, err
	}
	j.LeaseUntil, j.RequestedAt, j.StartedAt, j.FinishedAt = optTime(until), optTime(requested), optTime(started), optTime(finished)
	return j, nil
}

// optTime turns 0 ("never") into the zero time.
func optTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

// Job implements meta.JobStore.
func (s *Store) Job(ctx context.Context, name string) (meta.Job, error) {
	j, err := scanJob(s.readRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE name = ?`, name), name)
	if errors.Is(err, sql.ErrNoRows) {
		return meta.Job{Name: name}, nil
	}
	return j, err
}

// AcquireJob implements meta.JobStore. The single writer makes the upsert
// and its condition atomic.
func (s *Store) AcquireJob(ctx context.Context, name, owner string, ttl time.Duration) (meta.Job, error) {
	var j meta.Job
	err := s.tx(ctx, func(tx wtx) error {
		t := now()
		row := tx.QueryRowContext(ctx, `INSERT INTO jobs (name, lease_owner, lease_until) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
			WHERE jobs.lease_owner = excluded.lease_owner OR jobs.lease_owner = '' OR jobs.lease_until <= ?
			RETURNING `+jobColumns, name, owner, t+int64(ttl), t)
		var err error
		j, err = scanJob(row, name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: job %s is leased by another instance", meta.ErrConflict, name)
		}
		return err
	})
	return j, err
}

// ReleaseJob implements meta.JobStore.
func (s *Store) ReleaseJob(ctx context.Context, name, owner string) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE jobs SET lease_owner = '', lease_until = 0 WHERE name = ? AND lease_owner = ?`, name, owner)
		return err
	})
}

// ownedJob runs an UPDATE of owner's job and turns "no row" into ErrConflict.
func (s *Store) ownedJob(ctx context.Context, name, owner, set string, args ...any) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET `+set+` WHERE name = ? AND lease_owner = ?`, append(args, name, owner)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: job %s is not leased by %s", meta.ErrConflict, name, owner)
		}
		return nil
	})
}

// StartJob implements meta.JobStore.
func (s *Store) StartJob(ctx context.Context, name, owner, progress string) error {
	return s.ownedJob(ctx, name, owner, `running = 1, progress = ?, started_at = ?`, progress, now())
}

// SaveJobProgress implements meta.JobStore.
func (s *Store) SaveJobProgress(ctx context.Context, name, owner, progress string) error {
	return s.ownedJob(ctx, name, owner, `progress = ?`, progress)
}

// FinishJob implements meta.JobStore: the job's row and its history in
// one transaction.
func (s *Store) FinishJob(ctx context.Context, name, owner, report string) error {
	return s.tx(ctx, func(tx wtx) error {
		t := now()
		var started int64
		err := tx.QueryRowContext(ctx, `UPDATE jobs SET running = 0, progress = '', finished_at = ?, report = ?
			WHERE name = ? AND lease_owner = ? RETURNING started_at`, t, report, name, owner).Scan(&started)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: job %s is not leased by %s", meta.ErrConflict, name, owner)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO job_runs (name, started_at, finished_at, report) VALUES (?, ?, ?, ?)`,
			name, started, t, report); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM job_runs WHERE name = ? AND id NOT IN
			(SELECT id FROM job_runs WHERE name = ? ORDER BY id DESC LIMIT ?)`, name, name, meta.JobRunsKept)
		return err
	})
}

// JobRuns implements meta.JobStore.
func (s *Store) JobRuns(ctx context.Context, name string) ([]meta.JobRun, error) {
	rows, err := s.readRows(ctx, `SELECT id, started_at, finished_at, report FROM job_runs
		WHERE name = ? ORDER BY id DESC LIMIT ?`, name, meta.JobRunsKept)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.JobRun
	for rows.Next() {
		var r meta.JobRun
		var started, finished int64
		if err := rows.Scan(&r.ID, &started, &finished, &r.Report); err != nil {
			return nil, err
		}
		r.StartedAt, r.FinishedAt = optTime(started), optTime(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// RequestJob implements meta.JobStore.
func (s *Store) RequestJob(ctx context.Context, name, request string) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO jobs (name, requested_at, request) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET requested_at = excluded.requested_at, request = excluded.request`, name, now(), request)
		return err
	})
}
