package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// PutReplicationConfig implements meta.ReplicationStore.
func (s *Store) PutReplicationConfig(ctx context.Context, c meta.ReplicationConfig) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO replication_configs (kind, name, spec, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (kind, name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
			c.Kind, c.Name, c.Spec, now())
		return err
	})
}

// ReplicationConfig implements meta.ReplicationStore.
func (s *Store) ReplicationConfig(ctx context.Context, kind, name string) (meta.ReplicationConfig, error) {
	c := meta.ReplicationConfig{Kind: kind, Name: name}
	var t int64
	err := s.readRow(ctx, `SELECT spec, updated_at FROM replication_configs WHERE kind = ? AND name = ?`, kind, name).Scan(&c.Spec, &t)
	c.UpdatedAt = fromNanos(t)
	return c, notFound(err, "replication "+kind+" "+name)
}

// ReplicationConfigs implements meta.ReplicationStore.
func (s *Store) ReplicationConfigs(ctx context.Context, kind string) ([]meta.ReplicationConfig, error) {
	rows, err := s.readRows(ctx, `SELECT name, spec, updated_at FROM replication_configs WHERE kind = ? ORDER BY name`, kind)
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
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM replication_configs WHERE kind = ? AND name = ?`, kind, name)
		return changedOne(res, err, "replication "+kind+" "+name)
	})
}

func insertTasks(ctx context.Context, tx wtx, id int64, tasks []meta.ReplicationTask) error {
	t := now()
	for _, k := range tasks {
		if _, err := tx.ExecContext(ctx, `INSERT INTO replication_tasks (run_id, kind, source, dest, ref, digest, status, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, k.Kind, k.Source, k.Dest, k.Ref, k.Digest, meta.TaskPending, t); err != nil {
			return err
		}
	}
	return nil
}

// CreateReplicationRun implements meta.ReplicationStore.
func (s *Store) CreateReplicationRun(ctx context.Context, r meta.ReplicationRun, tasks []meta.ReplicationTask) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx wtx) error {
		status := meta.RunPending
		if tasks != nil {
			status = meta.RunRunning
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO replication_runs (rule, via, status, request, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, r.Rule, r.Trigger, status, r.Request, now()).Scan(&id); err != nil {
			return err
		}
		return insertTasks(ctx, tx, id, tasks)
	})
	return id, err
}

// PlanReplicationRun implements meta.ReplicationStore.
func (s *Store) PlanReplicationRun(ctx context.Context, id int64, tasks []meta.ReplicationTask) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE replication_runs SET status = ? WHERE id = ? AND status = ?`, meta.RunRunning, id, meta.RunPending)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
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
	(SELECT COALESCE(SUM(t.bytes), 0) FROM replication_tasks t WHERE t.run_id = r.id)`

func scanRun(row interface{ Scan(...any) error }) (meta.ReplicationRun, error) {
	var r meta.ReplicationRun
	var created, finished int64
	c := &r.Counts
	err := row.Scan(&r.ID, &r.Rule, &r.Trigger, &r.Status, &r.Error, &r.Request, &created, &finished,
		&c.Pending, &c.Running, &c.Succeeded, &c.Failed, &c.Skipped, &c.Bytes)
	r.CreatedAt, r.FinishedAt = fromNanos(created), optTime(finished)
	return r, err
}

func (s *Store) runs(ctx context.Context, query string, args ...any) ([]meta.ReplicationRun, error) {
	rows, err := s.readRows(ctx, `SELECT `+runColumns+` FROM replication_runs r `+query, args...)
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
	r, err := scanRun(s.readRow(ctx, `SELECT `+runColumns+` FROM replication_runs r WHERE r.id = ?`, id))
	return r, notFound(err, fmt.Sprintf("replication run %d", id))
}

// ReplicationRuns implements meta.ReplicationStore.
func (s *Store) ReplicationRuns(ctx context.Context, rule string, limit int) ([]meta.ReplicationRun, error) {
	return s.runs(ctx, `WHERE ? = '' OR r.rule = ? ORDER BY r.id DESC LIMIT ?`, rule, rule, limit)
}

// LastFullReplicationRun implements meta.ReplicationStore.
func (s *Store) LastFullReplicationRun(ctx context.Context, rule string) (meta.ReplicationRun, error) {
	r, err := scanRun(s.readRow(ctx, `SELECT `+runColumns+` FROM replication_runs r
		WHERE r.rule = ? AND r.via <> 'event' ORDER BY r.id DESC LIMIT 1`, rule))
	return r, notFound(err, "full run of rule "+rule)
}

// ActiveReplicationRuns implements meta.ReplicationStore.
func (s *Store) ActiveReplicationRuns(ctx context.Context) ([]meta.ReplicationRun, error) {
	return s.runs(ctx, `WHERE r.status IN ('pending', 'running') ORDER BY r.id`)
}

// EndReplicationRun implements meta.ReplicationStore.
func (s *Store) EndReplicationRun(ctx context.Context, id int64, status, reason string) error {
	return s.tx(ctx, func(tx wtx) error {
		t := now()
		res, err := tx.ExecContext(ctx, `UPDATE replication_runs SET status = ?, error = ?, finished_at = ?
			WHERE id = ? AND status IN ('pending', 'running')`, status, reason, t, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if err := tx.QueryRowContext(ctx, `SELECT id FROM replication_runs WHERE id = ?`, id).Scan(&id); err != nil {
				return notFound(err, fmt.Sprintf("replication run %d", id))
			}
			return fmt.Errorf("%w: run %d has ended", meta.ErrConflict, id)
		}
		if status != meta.RunStopped {
			return nil
		}
		_, err = tx.ExecContext(ctx, `UPDATE replication_tasks SET status = 'skipped', error = ?, lease_owner = '', updated_at = ?
			WHERE run_id = ? AND status IN ('pending', 'running')`, "run stopped: "+reason, t, id)
		return err
	})
}

const taskColumns = `id, run_id, kind, source, dest, ref, digest, status, attempt, next_at, lease_owner, lease_until, error, bytes, updated_at`

func scanTask(row interface{ Scan(...any) error }) (meta.ReplicationTask, error) {
	var k meta.ReplicationTask
	var next, until, updated int64
	err := row.Scan(&k.ID, &k.RunID, &k.Kind, &k.Source, &k.Dest, &k.Ref, &k.Digest, &k.Status, &k.Attempt,
		&next, &k.Owner, &until, &k.Error, &k.Bytes, &updated)
	k.NextAt, k.Until, k.Updated = optTime(next), optTime(until), optTime(updated)
	return k, err
}

func scanTasks(rows *sql.Rows, err error) ([]meta.ReplicationTask, error) {
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

// ClaimReplicationTasks implements meta.ReplicationStore. The single
// writer makes the selection and the update atomic.
func (s *Store) ClaimReplicationTasks(ctx context.Context, runID int64, owner string, ttl time.Duration, limit int) ([]meta.ReplicationTask, error) {
	var out []meta.ReplicationTask
	err := s.tx(ctx, func(tx wtx) error {
		t := now()
		var err error
		out, err = scanTasks(tx.QueryContext(ctx, `UPDATE replication_tasks SET status = 'running', lease_owner = ?, lease_until = ?,
			attempt = attempt + 1, updated_at = ?
			WHERE id IN (SELECT t.id FROM replication_tasks t JOIN replication_runs r ON r.id = t.run_id
				WHERE t.run_id = ? AND r.status = 'running'
				AND ((t.status = 'pending' AND t.next_at <= ?) OR (t.status = 'running' AND t.lease_until <= ?))
				ORDER BY t.id LIMIT ?)
			RETURNING `+taskColumns, owner, t+int64(ttl), t, runID, t, t, limit))
		return err
	})
	return out, err
}

// RenewReplicationTasks implements meta.ReplicationStore.
func (s *Store) RenewReplicationTasks(ctx context.Context, owner string, ttl time.Duration) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `UPDATE replication_tasks SET lease_until = ? WHERE lease_owner = ? AND status = 'running'`,
			now()+int64(ttl), owner)
		return err
	})
}

// FinishReplicationTask implements meta.ReplicationStore.
func (s *Store) FinishReplicationTask(ctx context.Context, id int64, owner, status, reason string, bytes int64, retryAt time.Time) error {
	var next int64
	if !retryAt.IsZero() {
		next = retryAt.UnixNano()
	}
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE replication_tasks SET status = ?, error = ?, bytes = bytes + ?, next_at = ?,
			lease_owner = '', lease_until = 0, updated_at = ? WHERE id = ? AND lease_owner = ? AND status = 'running'`,
			status, reason, bytes, next, now(), id, owner)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: task %d is not leased by %s", meta.ErrConflict, id, owner)
		}
		return nil
	})
}

// ReplicationTasks implements meta.ReplicationStore.
func (s *Store) ReplicationTasks(ctx context.Context, runID int64, status string, after int64, limit int) ([]meta.ReplicationTask, error) {
	return scanTasks(s.readRows(ctx, `SELECT `+taskColumns+` FROM replication_tasks
		WHERE run_id = ? AND (? = '' OR status = ?) AND id > ? ORDER BY id LIMIT ?`, runID, status, status, after, limit))
}
