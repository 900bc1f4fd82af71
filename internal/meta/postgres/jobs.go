package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

const jobColumns = `lease_owner, lease_until, running, progress, requested_at, request, started_at, finished_at, report`

func scanJob(row pgx.Row, name string) (meta.Job, error) {
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
	j, err := scanJob(s.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM jobs WHERE name = $1`, name), name)
	if errors.Is(err, pgx.ErrNoRows) {
		return meta.Job{Name: name}, nil
	}
	return j, err
}

// AcquireJob implements meta.JobStore: one upsert whose update is
// conditional, timed by the database's clock. Of two instances racing for
// a free lease, the second re-checks the row the first wrote and is refused.
func (s *Store) AcquireJob(ctx context.Context, name, owner string, ttl time.Duration) (meta.Job, error) {
	j, err := scanJob(s.pool.QueryRow(ctx, `INSERT INTO jobs (name, lease_owner, lease_until) VALUES ($1, $2, `+dbNow+` + $3)
		ON CONFLICT (name) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE jobs.lease_owner = excluded.lease_owner OR jobs.lease_owner = '' OR jobs.lease_until <= `+dbNow+`
		RETURNING `+jobColumns, name, owner, int64(ttl)), name)
	if errors.Is(err, pgx.ErrNoRows) {
		return meta.Job{}, fmt.Errorf("%w: job %s is leased by another instance", meta.ErrConflict, name)
	}
	return j, err
}

// ReleaseJob implements meta.JobStore.
func (s *Store) ReleaseJob(ctx context.Context, name, owner string) error {
	_, err := s.pool.Exec(ctx, `UPDATE jobs SET lease_owner = '', lease_until = 0 WHERE name = $1 AND lease_owner = $2`, name, owner)
	return err
}

// ownedJob runs an UPDATE of owner's job ($1 name, $2 owner) and turns
// "no row" into ErrConflict.
func (s *Store) ownedJob(ctx context.Context, name, owner, set string, args ...any) error {
	tag, err := s.pool.Exec(ctx, `UPDATE jobs SET `+set+` WHERE name = $1 AND lease_owner = $2`, append([]any{name, owner}, args...)...)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: job %s is not leased by %s", meta.ErrConflict, name, owner)
	}
	return nil
}

// StartJob implements meta.JobStore.
func (s *Store) StartJob(ctx context.Context, name, owner, progress string) error {
	return s.ownedJob(ctx, name, owner, `running = true, progress = $3, started_at = `+dbNow, progress)
}

// SaveJobProgress implements meta.JobStore.
func (s *Store) SaveJobProgress(ctx context.Context, name, owner, progress string) error {
	return s.ownedJob(ctx, name, owner, `progress = $3`, progress)
}

// FinishJob implements meta.JobStore: the job's row and its history in
// one statement. Runs of one job finish one at a time (the lease), so the
// trim cannot race another insert of the same job.
func (s *Store) FinishJob(ctx context.Context, name, owner, report string) error {
	var n int64
	err := s.pool.QueryRow(ctx, `WITH done AS (
			UPDATE jobs SET running = false, progress = '', finished_at = `+dbNow+`, report = $3
			WHERE name = $1 AND lease_owner = $2 RETURNING name, started_at, finished_at, report),
		added AS (
			INSERT INTO job_runs (name, started_at, finished_at, report) SELECT * FROM done RETURNING id),
		trimmed AS (
			DELETE FROM job_runs WHERE name = $1 AND EXISTS (SELECT 1 FROM done)
				AND id IN (SELECT id FROM job_runs WHERE name = $1 ORDER BY id DESC OFFSET $4))
		SELECT count(*) FROM added`, name, owner, report, meta.JobRunsKept-1).Scan(&n)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: job %s is not leased by %s", meta.ErrConflict, name, owner)
	}
	return nil
}

// JobRuns implements meta.JobStore.
func (s *Store) JobRuns(ctx context.Context, name string) ([]meta.JobRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, finished_at, report FROM job_runs
		WHERE name = $1 ORDER BY id DESC LIMIT $2`, name, meta.JobRunsKept)
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
	_, err := s.pool.Exec(ctx, `INSERT INTO jobs (name, requested_at, request) VALUES ($1, `+dbNow+`, $2)
		ON CONFLICT (name) DO UPDATE SET requested_at = excluded.requested_at, request = excluded.request`, name, request)
	return err
}
