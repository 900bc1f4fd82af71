package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

// PullEventsAfter implements meta.AnomalyStore.
func (s *Store) PullEventsAfter(ctx context.Context, after int64, limit int) ([]meta.AuditEvent, int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, at, action, username, repository, reference, digest, status, http_status,
		duration_ns, client_ip, request_id, requests FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	var out []meta.AuditEvent
	last := after
	for rows.Next() {
		var e meta.AuditEvent
		var at, dur int64
		var status int32
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.User, &e.Repository, &e.Reference, &e.Digest, &e.Status,
			&status, &dur, &e.ClientIP, &e.RequestID, &e.Requests); err != nil {
			return nil, after, err
		}
		last = e.ID
		if e.Action != "pull" {
			continue
		}
		e.Time, e.Duration, e.HTTPStatus = fromNanos(at), time.Duration(dur), int(status)
		out = append(out, e)
	}
	return out, last, rows.Err()
}

// AnomalyCursor implements meta.AnomalyStore.
func (s *Store) AnomalyCursor(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT last_id FROM anomaly_cursor WHERE id = 1`).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// AnomalyProfiles implements meta.AnomalyStore.
func (s *Store) AnomalyProfiles(ctx context.Context, keys []string) (map[string]meta.AnomalyProfile, error) {
	out := make(map[string]meta.AnomalyProfile, len(keys))
	rows, err := s.pool.Query(ctx, `SELECT key, data FROM anomaly_profiles WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p meta.AnomalyProfile
		if err := rows.Scan(&p.Key, &p.Data); err != nil {
			return nil, err
		}
		out[p.Key] = p
	}
	return out, rows.Err()
}

// SaveAnomalyBatch implements meta.AnomalyStore.
func (s *Store) SaveAnomalyBatch(ctx context.Context, b meta.AnomalyBatch) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		for _, p := range b.Profiles {
			batch.Queue(`INSERT INTO anomaly_profiles (key, data) VALUES ($1, $2)
				ON CONFLICT (key) DO UPDATE SET data = excluded.data`, p.Key, p.Data)
		}
		for _, f := range b.Findings {
			batch.Queue(`INSERT INTO anomaly_findings (at, kind, identity, repository, client_ip, reason, event_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, f.Time.UnixNano(), f.Kind, f.Identity, f.Repository, f.ClientIP, f.Reason, f.EventID)
		}
		batch.Queue(`INSERT INTO anomaly_cursor (id, last_id) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id`, b.Cursor)
		return tx.SendBatch(ctx, batch).Close()
	})
}

// AnomalyFindings implements meta.AnomalyStore.
func (s *Store) AnomalyFindings(ctx context.Context, f meta.AnomalyFilter) ([]meta.AnomalyFinding, error) {
	q, args := meta.AnomalyQuery(f, func(i int) string { return "$" + strconv.Itoa(i) })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.AnomalyFinding{}, rows, func(row pgx.CollectableRow) (meta.AnomalyFinding, error) {
		var a meta.AnomalyFinding
		var at int64
		err := row.Scan(&a.ID, &at, &a.Kind, &a.Identity, &a.Repository, &a.ClientIP, &a.Reason, &a.EventID)
		a.Time = fromNanos(at)
		return a, err
	})
}
