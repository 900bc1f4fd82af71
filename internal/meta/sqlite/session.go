package sqlite

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// CreateSession implements meta.SessionStore.
func (s *Store) CreateSession(ctx context.Context, ss meta.Session) error {
	return s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO ui_sessions (id, username, source, created_at, last_seen, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			ss.ID, ss.User, ss.Source, nanos(ss.CreatedAt), nanos(ss.LastSeen), nanos(ss.ExpiresAt))
		return inserted(res, err, "session")
	})
}

// Session implements meta.SessionStore.
func (s *Store) Session(ctx context.Context, id string) (meta.Session, error) {
	var ss meta.Session
	var created, seen, expires int64
	err := s.readRow(ctx, `SELECT id, username, source, created_at, last_seen, expires_at FROM ui_sessions WHERE id = ?`, id).
		Scan(&ss.ID, &ss.User, &ss.Source, &created, &seen, &expires)
	ss.CreatedAt, ss.LastSeen, ss.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return ss, notFound(err, "session")
}

// TouchSession implements meta.SessionStore. It commits lazily: a crash
// loses at most a recent LastSeen, which only shortens a session.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.lazyTx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE ui_sessions SET last_seen = ? WHERE id = ?`, nanos(at), id)
		return changedOne(res, err, "session")
	})
}

// DeleteSession implements meta.SessionStore.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx wtx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE id = ?`, id)
		return err
	})
}

// DeleteUserSessions implements meta.SessionStore.
func (s *Store) DeleteUserSessions(ctx context.Context, user string) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE username = ?`, user)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// PurgeSessions implements meta.SessionStore.
func (s *Store) PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error) {
	var n int64
	err := s.tx(ctx, func(tx wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM ui_sessions WHERE last_seen < ? OR expires_at <= ?`,
			nanos(idleBefore), nanos(now))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
