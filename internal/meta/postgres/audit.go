package postgres

import (
	"context"
	"fmt"
	"strings"
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
			"duration_ns", "client_ip", "request_id"},
		pgx.CopyFromSlice(len(events), func(i int) ([]any, error) {
			e := events[i]
			return []any{e.Time.UnixNano(), e.Action, e.User, e.Repository, e.Reference, e.Digest, e.Status,
				int32(e.HTTPStatus), int64(e.Duration), e.ClientIP, e.RequestID}, nil
		}))
	return err
}

// AuditEvents implements meta.AuditStore.
func (s *Store) AuditEvents(ctx context.Context, f meta.AuditFilter) ([]meta.AuditEvent, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.User != "" {
		add("username = $%d", f.User)
	}
	if f.Action != "" {
		add("action = $%d", f.Action)
	}
	if f.Repository != "" {
		add("repository = $%d", f.Repository)
	}
	if !f.Since.IsZero() {
		add("at >= $%d", f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		add("at < $%d", f.Until.UnixNano())
	}
	if f.Before > 0 {
		add("id < $%d", f.Before)
	}
	q := `SELECT id, at, action, username, repository, reference, digest, status, http_status, duration_ns,
		client_ip, request_id FROM audit_events`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	n := f.Limit
	if n <= 0 || n > 1000 {
		n = 1000
	}
	args = append(args, n)
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]meta.AuditEvent{}, rows, func(row pgx.CollectableRow) (meta.AuditEvent, error) {
		var e meta.AuditEvent
		var at, dur int64
		var status int32
		err := row.Scan(&e.ID, &at, &e.Action, &e.User, &e.Repository, &e.Reference, &e.Digest, &e.Status,
			&status, &dur, &e.ClientIP, &e.RequestID)
		e.Time, e.Duration, e.HTTPStatus = fromNanos(at), time.Duration(dur), int(status)
		return e, err
	})
}

// PurgeAudit implements meta.AuditStore.
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM audit_events WHERE at < $1`, before.UnixNano())
	return tag.RowsAffected(), err
}
