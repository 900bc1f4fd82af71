package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// PullEventsAfter implements meta.AnomalyStore.
func (s *Store) PullEventsAfter(ctx context.Context, after int64, limit int) ([]meta.AuditEvent, int64, error) {
	rows, err := s.readRows(ctx, `SELECT id, at, action, username, repository, reference, digest, status, http_status,
		duration_ns, client_ip, request_id, requests FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, after, err
	}
	defer rows.Close()
	var out []meta.AuditEvent
	last := after
	for rows.Next() {
		var e meta.AuditEvent
		var at, dur int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.User, &e.Repository, &e.Reference, &e.Digest, &e.Status,
			&e.HTTPStatus, &dur, &e.ClientIP, &e.RequestID, &e.Requests); err != nil {
			return nil, after, err
		}
		last = e.ID
		if e.Action != "pull" {
			continue
		}
		e.Time, e.Duration = fromNanos(at), time.Duration(dur)
		out = append(out, e)
	}
	return out, last, rows.Err()
}

// AnomalyCursor implements meta.AnomalyStore.
func (s *Store) AnomalyCursor(ctx context.Context) (int64, error) {
	var n int64
	err := s.readRow(ctx, `SELECT last_id FROM anomaly_cursor WHERE id = 1`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// AnomalyProfiles implements meta.AnomalyStore.
func (s *Store) AnomalyProfiles(ctx context.Context, keys []string) (map[string]meta.AnomalyProfile, error) {
	out := make(map[string]meta.AnomalyProfile, len(keys))
	const perQuery = 500 // under SQLite's parameter limit
	for len(keys) > 0 {
		n := min(len(keys), perQuery)
		args := make([]any, n)
		for i, k := range keys[:n] {
			args[i] = k
		}
		rows, err := s.r.QueryContext(ctx, `SELECT key, data FROM anomaly_profiles WHERE key IN (`+
			strings.TrimSuffix(strings.Repeat("?,", n), ",")+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var p meta.AnomalyProfile
			if err := rows.Scan(&p.Key, &p.Data); err != nil {
				rows.Close()
				return nil, err
			}
			out[p.Key] = p
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		keys = keys[n:]
	}
	return out, nil
}

// SaveAnomalyBatch implements meta.AnomalyStore.
func (s *Store) SaveAnomalyBatch(ctx context.Context, b meta.AnomalyBatch) error {
	return s.tx(ctx, func(tx wtx) error {
		for _, p := range b.Profiles {
			if _, err := tx.ExecContext(ctx, `INSERT INTO anomaly_profiles (key, data) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET data = excluded.data`, p.Key, p.Data); err != nil {
				return err
			}
		}
		for _, f := range b.Findings {
			if _, err := tx.ExecContext(ctx, `INSERT INTO anomaly_findings (at, kind, identity, repository, client_ip, reason, event_id)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, f.Time.UnixNano(), f.Kind, f.Identity, f.Repository, f.ClientIP, f.Reason, f.EventID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO anomaly_cursor (id, last_id) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id`, b.Cursor)
		return err
	})
}

// AnomalyFindings implements meta.AnomalyStore.
func (s *Store) AnomalyFindings(ctx context.Context, f meta.AnomalyFilter) ([]meta.AnomalyFinding, error) {
	q, args := meta.AnomalyQuery(f, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.AnomalyFinding{}
	for rows.Next() {
		var a meta.AnomalyFinding
		var at int64
		if err := rows.Scan(&a.ID, &at, &a.Kind, &a.Identity, &a.Repository, &a.ClientIP, &a.Reason, &a.EventID); err != nil {
			return nil, err
		}
		a.Time = fromNanos(at)
		out = append(out, a)
	}
	return out, rows.Err()
}
