package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

// PutReplicationConfig implements meta.ReplicationStore.
func (s *Store) PutReplicationConfig(ctx context.Context, c meta.ReplicationConfig) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO replication_configs (kind, name, spec, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
		c.Kind, c.Name, c.Spec, now())
	return err
}

// ReplicationConfig implements meta.ReplicationStore.
func (s *Store) ReplicationConfig(ctx context.Context, kind, name string) (meta.ReplicationConfig, error) {
	c := meta.ReplicationConfig{Kind: kind, Name: name}
	var t int64
	err := s.pool.QueryRow(ctx, `SELECT spec, updated_at FROM replication_configs WHERE kind = $1 AND name = $2`, kind, name).Scan(&c.Spec, &t)
	c.UpdatedAt = fromNanos(t)
	return c, notFound(err, "replication "+kind+" "+name)
}

// ReplicationConfigs implements meta.ReplicationStore.
func (s *Store) ReplicationConfigs(ctx context.Context, kind string) ([]meta.ReplicationConfig, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, spec, updated_at FROM replication_configs WHERE kind = $1 ORDER BY name`, kind)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.ReplicationConfig
	for rows.Next() {
		c := meta.ReplicationConfig{Kind: kind}
		var t int64
		if err := rows.Scan(&c.Name, &c.Spec, &t); err != nil {
			return nil, err
		}
		c.UpdatedAt = fromNanos(t)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteReplicationConfig implements meta.ReplicationStore.
func (s *Store) DeleteReplicationConfig(ctx context.Context, kind, name string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM replication_configs WHERE kind = $1 AND name = $2`, kind, name)
	return changedOne(tag, err, "replication "+kind+" "+name)
}

func insertTasks(ctx context.Context, tx pgx.Tx, id int64, tasks []meta.ReplicationTask) error {
	t := now()
	for _, k := range tasks {
		if _, err := tx.Exec(ctx, `INSERT INTO replication_tasks (run_id, kind, source, dest, ref, digest, status, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, k.Kind, k.Source, k.Dest, k.Ref, k.Digest, meta.TaskPending, t); err != nil {
			return err
		}
	}
	return nil
}

// CreateReplicationRun implements meta.ReplicationStore.
func (s *Store) CreateReplicationRun(ctx context.Context, r meta.ReplicationRun, tasks []meta.ReplicationTask) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		status := meta.RunPending
		if tasks != nil {
			status = meta.RunRunning
		}
		if err := tx.QueryRow(ctx, `INSERT INTO replication_runs (rule, via, status, request, created_at)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, r.Rule, r.Trigger, status, r.Request, now()).Scan(&id); err != nil {
			return err
		}
		return insertTasks(ctx, tx, id, tasks)
	})
	return id, err
}

// PlanReplicationRun implements meta.ReplicationStore.
func (s *Store) PlanReplicationRun(ctx context.Context, id int64, tasks []meta.ReplicationTask) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE replication_runs SET status = $1 WHERE id = $2 AND status = $3`, meta.RunRunning, id, meta.RunPending)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: run %d is not pending", meta.ErrConflict, id)
		}
		return insertTasks(ctx, tx, id, tasks)
	})
}

const runColumns = `r.id, r.rule, r.via, r.status, r.error, r.request, r.created_at, r.finished_at,
	(SELECT COUNT(*) FROM replication_tasks t WHERE t.run_id = r.id AND t.status = 'pending'),
	(SELECT COUNT(*) FROM replication_tasks t WHERE t.run_id = r.id AND t.status = 'running'),
	(SELECT COUNT(*) FROM replication_tasks t WHERE t.run_id = r.id AND t.status = 'succeeded'),
	(SELECT COUNT(*) FROM replication_tasks t WHERE t.run_id = r.id AND t.status = 'failed'),
	(SELECT COUNT(*) FROM replication_tasks t WHERE t.run_id = r.id AND t.status = 'skipped'),
	(SELECT COALESCE(SUM(t.bytes), 0)::BIGINT FROM replication_tasks t WHERE t.run_id = r.id)`

func scanRun(row pgx.Row) (meta.ReplicationRun, error) {
	var r meta.ReplicationRun
	var created, finished int64
	var p, ru, su, f, sk int64
	err := row.Scan(&r.ID, &r.Rule, &r.Trigger, &r.Status, &r.Error, &r.Request, &created, &finished,
		&p, &ru, &su, &f, &sk, &r.Counts.Bytes)
	r.Counts.Pending, r.Counts.Running, r.Counts.Succeeded, r.Counts.Failed, r.Counts.Skipped = int(p), int(ru), int(su), int(f), int(sk)
	r.CreatedAt, r.FinishedAt = fromNanos(created), optTime(finished)
	return r, err
}

func (s *Store) runs(ctx context.Context, query string, args ...any) ([]meta.ReplicationRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM replication_runs r `+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.ReplicationRun
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReplicationRun implements meta.ReplicationStore.
func (s *Store) ReplicationRun(ctx context.Context, id int64) (meta.ReplicationRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM replication_runs r WHERE r.id = $1`, id))
	return r, notFound(err, fmt.Sprintf("replication run %d", id))
}

// ReplicationRuns implements meta.ReplicationStore.
func (s *Store) ReplicationRuns(ctx context.Context, rule string, limit int) ([]meta.ReplicationRun, error) {
	return s.runs(ctx, `WHERE $1 = '' OR r.rule = $1 ORDER BY r.id DESC LIMIT $2`, rule, limit)
}

// LastFullReplicationRun implements meta.ReplicationStore.
func (s *Store) LastFullReplicationRun(ctx context.Context, rule string) (meta.ReplicationRun, error) {
	r, err := scanRun(s.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM replication_runs r
		WHERE r.rule = $1 AND r.via <> 'event' ORDER BY r.id DESC LIMIT 1`, rule))
	return r, notFound(err, "full run of rule "+rule)
}

// ActiveReplicationRuns implements meta.ReplicationStore.
func (s *Store) ActiveReplicationRuns(ctx context.Context) ([]meta.ReplicationRun, error) {
	return s.runs(ctx, `WHERE r.status IN ('pending', 'running') ORDER BY r.id`)
}

// EndReplicationRun implements meta.ReplicationStore.
func (s *Store) EndReplicationRun(ctx context.Context, id int64, status, reason string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		t := now()
		tag, err := tx.Exec(ctx, `UPDATE replication_runs SET status = $1, error = $2, finished_at = $3
			WHERE id = $4 AND status IN ('pending', 'running')`, status, reason, t, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var x int64
			if err := tx.QueryRow(ctx, `SELECT id FROM replication_runs WHERE id = $1`, id).Scan(&x); err != nil {
				return notFound(err, fmt.Sprintf("replication run %d", id))
			}
			return fmt.Errorf("%w: run %d has ended", meta.ErrConflict, id)
		}
		if status != meta.RunStopped {
			return nil
		}
		_, err = tx.Exec(ctx, `UPDATE replication_tasks SET status = 'skipped', error = $1, lease_owner = '', updated_at = $2
			WHERE run_id = $3 AND status IN ('pending', 'running')`, "run stopped: "+reason, t, id)
		return err
	})
}

const taskColumns = `id, run_id, kind, source, dest, ref, digest, status, attempt, next_at, lease_owner, lease_until, error, bytes, updated_at`

func scanTask(row pgx.Row) (meta.ReplicationTask, error) {
	var k meta.ReplicationTask
	var next, until, updated, attempt int64
	err := row.Scan(&k.ID, &k.RunID, &k.Kind, &k.Source, &k.Dest, &k.Ref, &k.Digest, &k.Status, &attempt,
		&next, &k.Owner, &until, &k.Error, &k.Bytes, &updated)
	k.Attempt = int(attempt)
	k.NextAt, k.Until, k.Updated = optTime(next), optTime(until), optTime(updated)
	return k, err
}

func scanTasks(rows pgx.Rows, err error) ([]meta.ReplicationTask, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []meta.ReplicationTask
	for rows.Next() {
		k, err := scanTask(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// ClaimReplicationTasks implements meta.ReplicationStore: the rows are
// locked with SKIP LOCKED, so instances claiming at once take different
// tasks; leases are timed by the database's clock.
func (s *Store) ClaimReplicationTasks(ctx context.Context, runID int64, owner string, ttl time.Duration, limit int) ([]meta.ReplicationTask, error) {
	return scanTasks(s.pool.Query(ctx, `UPDATE replication_tasks SET status = 'running', lease_owner = $1,
			lease_until = `+dbNow+` + $2, attempt = attempt + 1, updated_at = `+dbNow+`
		WHERE id IN (SELECT t.id FROM replication_tasks t JOIN replication_runs r ON r.id = t.run_id
			WHERE t.run_id = $3 AND r.status = 'running'
			AND ((t.status = 'pending' AND t.next_at <= `+dbNow+`) OR (t.status = 'running' AND t.lease_until <= `+dbNow+`))
			ORDER BY t.id LIMIT $4 FOR UPDATE OF t SKIP LOCKED)
		RETURNING `+taskColumns, owner, int64(ttl), runID, limit))
}

// RenewReplicationTasks implements meta.ReplicationStore.
func (s *Store) RenewReplicationTasks(ctx context.Context, owner string, ttl time.Duration) error {
	_, err := s.pool.Exec(ctx, `UPDATE replication_tasks SET lease_until = `+dbNow+` + $1 WHERE lease_owner = $2 AND status = 'running'`,
		int64(ttl), owner)
	return err
}

// FinishReplicationTask implements meta.ReplicationStore.
func (s *Store) FinishReplicationTask(ctx context.Context, id int64, owner, status, reason string, bytes int64, retryAt time.Time) error {
	var next int64
	if !retryAt.IsZero() {
		next = retryAt.UnixNano()
	}
	tag, err := s.pool.Exec(ctx, `UPDATE replication_tasks SET status = $1, error = $2, bytes = bytes + $3, next_at = $4,
		lease_owner = '', lease_until = 0, updated_at = $5 WHERE id = $6 AND lease_owner = $7 AND status = 'running'`,
		status, reason, bytes, next, now(), id, owner)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: task %d is not leased by %s", meta.ErrConflict, id, owner)
	}
	return nil
}

// ReplicationTasks implements meta.ReplicationStore.
func (s *Store) ReplicationTasks(ctx context.Context, runID int64, status string, after int64, limit int) ([]meta.ReplicationTask, error) {
	return scanTasks(s.pool.Query(ctx, `SELECT `+taskColumns+` FROM replication_tasks
		WHERE run_id = $1 AND ($2 = '' OR status = $2) AND id > $3 ORDER BY id LIMIT $4`, runID, status, after, limit))
}
