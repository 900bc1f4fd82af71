package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-registry/berth/internal/meta"
)

// AppendAudit implements meta.AuditStore, with one COPY for the batch.
func (s *Store) AppendAudit(ctx context.Context, events []meta.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	_, err := s.pool.CopyFrom(ctx, pgx.Identifier{"audit_events"},
		[]string{"at", "action", "username", "repository", "reference", "digest", "status", "http_status",
			"duration_ns", "client_ip", "request_id", "requests"},
		pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
			e := events[i]
			return []any{e.Time.UnixNano(), e.Action, e.User, e.Repository, e.Reference, e.Digest, e.Status,
				int32(e.HTTPStatus), int64(e.Duration), e.ClientIP, e.RequestID, e.Requests}, nil
		}))
	return err
}

// AuditEvents implements meta.AuditStore.
func (s *Store) AuditEvents(ctx context.Context, f meta.AuditFilter) ([]meta.AuditEvent, error) {
	q, args := meta.AuditQuery(f, func(i int) string { return "$" + strconv.Itoa(i) })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.AuditEvent{}, rows, func(row pgx.CollectableRow) (meta.AuditEvent, error) {
		var e meta.AuditEvent
		var at, dur int64
		var status int32
		err := row.Scan(&e.ID, &at, &e.Action, &e.User, &e.Repository, &e.Reference, &e.Digest, &e.Status,
			&status, &dur, &e.ClientIP, &e.RequestID, &e.Requests)
		e.Time, e.Duration, e.HTTPStatus = fromNanos(at), time.Duration(dur), int(status)
		return e, err
	})
}

// PurgeAudit implements meta.AuditStore.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE at < $1`, before.UnixNano())
	return tag.RowsAffected(), err
}
