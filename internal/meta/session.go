package meta

import (
	"context"
	"time"
)

// Session is a web UI log-in session. ID is the SHA-256 (hex) of the
// random secret in the browser's cookie: the secret itself is never
// stored, so a copy of the database logs nobody in.
type Session struct {
	ID        string
	User      string
	Source    string // the source of users that logged them in (builtin, htpasswd, ldap)
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time // absolute end, whatever the use
}

// SessionStore keeps the web UI's sessions, so every instance behind a
// load balancer knows every session and a log-out ends it everywhere.
type SessionStore interface {
	// CreateSession records a new session; ErrExists if the ID is taken.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a session by ID, or ErrNotFound.
	Session(ctx context.Context, id string) (Session, error)
	// TouchSession sets a session's LastSeen; ErrNotFound when it is gone.
	TouchSession(ctx context.Context, id string, at time.Time) error
	// DeleteSession ends a session; no error when it is already gone.
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions ends every session of a user and says how many.
	DeleteUserSessions(ctx context.Context, user string) (int64, error)
	// PurgeSessions deletes the sessions last seen before idleBefore or
	// expired at now, and says how many went.
	PurgeSessions(ctx context.Context, idleBefore, now time.Time) (int64, error)
}
