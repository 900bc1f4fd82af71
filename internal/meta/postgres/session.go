package postgres

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// CreateSession implements meta.SessionStore.
func (s *Store) CreateSession(ctx context.Context, ss meta.Session) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO ui_sessions (id, username, source, created_at, last_seen, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		ss.ID, ss.User, ss.Source, nanos(ss.CreatedAt), nanos(ss.LastSeen), nanos(ss.ExpiresAt))
	return inserted(tag, err, "session")
}

// Session implements meta.SessionStore.
func (s *Store) Session(ctx context.Context, id string) (meta.Session, error) {
	var ss meta.Session
	var created, seen, expires int64
	err := s.pool.QueryRow(ctx, `SELECT id, username, source, created_at, last_seen, expires_at FROM ui_sessions WHERE id = $1`, id).
		Scan(&ss.ID, &ss.User, &ss.Source, &created, &seen, &expires)
	ss.CreatedAt, ss.LastSeen, ss.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return ss, notFound(err, "session")
}

// TouchSession implements meta.SessionStore.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE ui_sessions SET last_seen = $1 WHERE id = $2`, nanos(at), id)
	return changedOne(tag, err, "session")
}

// DeleteSession implements meta.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM ui_sessions WHERE id = $1`, id)
	return err
}

// DeleteUserSessions implements meta.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM ui_sessions WHERE username = $1`, user)
	return tag.RowsAffected(), err
}

// PurgeSessions implements meta.SessionStore.
func (s *Store) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM ui_sessions WHERE last_seen < $1 OR expires_at <= $2`,
		nanos(idleBefore), nanos(now))
	return tag.RowsAffected(), err
}
