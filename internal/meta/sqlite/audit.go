package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// AppendAudit implements meta.AuditStore. The batch commits lazily (see
// lazyTx): the audit writer batches events, and a crash loses at most the
// last moments of the log, never the registry's own state.
func (s *Store) AppendAudit(ctx context.Context, events []meta.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	return s.lazyTx(ctx, func(tx wtx) error {
		// Many rows per statement: parsing and per-statement overhead
		// dominate inserting small rows one by one. The full-size statement
		// is the writer's prepared one; a last, shorter one runs once.
		const perStmt = 64
		args := make([]any, 0, perStmt*12)
		for len(events) > 0 {
			n := min(len(events), perStmt)
			args = args[:0]
			for _, e := range events[:n] {
				args = append(args, e.Time.UnixNano(), e.Action, e.User, e.Repository, e.Reference,
					e.Digest, e.Status, e.HTTPStatus, int64(e.Duration), e.ClientIP, e.RequestID, e.Requests)
			}
			exec := tx.ExecContext
			if n < perStmt {
				exec = tx.Tx.ExecContext
			}
			if _, err := exec(ctx, auditInsert(n), args...); err != nil {
				return err
			}
			events = events[n:]
		}
		return nil
	})
}

// auditInsert is the INSERT of n audit events.
func auditInsert(n int) string {
	return `INSERT INTO audit_events (at, action, username, repository, reference, digest, status,
		http_status, duration_ns, client_ip, request_id, requests) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?),", n), ",")
}

// AuditEvents implements meta.AuditStore.
func (s *Store) AuditEvents(ctx context.Context, f meta.AuditFilter) ([]meta.AuditEvent, error) {
	q, args := meta.AuditQuery(f, func(int) string { return "?" })
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []meta.AuditEvent{}
	for rows.Next() {
		var e meta.AuditEvent
		var at, dur int64
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.User, &e.Repository, &e.Reference, &e.Digest, &e.Status,
			&e.HTTPStatus, &dur, &e.ClientIP, &e.RequestID, &e.Requests); err != nil {
			return nil, err
		}
		e.Time, e.Duration = fromNanos(at), time.Duration(dur)
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeAudit implements meta.AuditStore.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ?`, before.UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
