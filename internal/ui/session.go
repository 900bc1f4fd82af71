package ui

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// sessionCookie carries the session's secret; the database keeps only
// its SHA-256.
const sessionCookie = "berth_session"

// touchEvery limits writes of a session's LastSeen to one per minute.
const touchEvery = time.Minute

type viewerKey struct{}

// sessionID is the stored ID of a cookie's secret.
func sessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// withSession finds the request's session and makes its user the
// request's subject for every permission check. A missing, idle, expired
// or orphaned session leaves the request anonymous (and clears the
// cookie). With auth.mode none every visitor is an administrator.
func (u *UI) withSession(w http.ResponseWriter, r *http.Request) (*http.Request, error) {
	if u.auth == nil {
		return r.WithContext(context.WithValue(r.Context(), viewerKey{}, Viewer{Admin: true})), nil
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return r, nil
	}
	ctx := r.Context()
	id := sessionID(c.Value)
	s, err := u.sessions.Session(ctx, id)
	if errors.Is(err, meta.ErrNotFound) {
		u.clearCookie(w, r)
		return r, nil
	}
	if err != nil {
		return r, err
	}
	now := u.now()
	if !now.Before(s.ExpiresAt) || now.Sub(s.LastSeen) >= u.cfg.Session.IdleTimeout {
		u.clearCookie(w, r)
		return r, u.sessions.DeleteSession(ctx, id)
	}
	subj, err := u.auth.LookupUser(ctx, s.User)
	if errors.Is(err, auth.ErrUnknownUser) {
		// The user was deleted (or left the directory): the session ends.
		u.clearCookie(w, r)
		return r, u.sessions.DeleteSession(ctx, id)
	}
	if err != nil {
		return r, err
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		if err := u.sessions.TouchSession(ctx, id, now); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return r, err
		}
	}
	r = u.auth.WithSubject(r, subj)
	v := Viewer{Name: subj.Name, Admin: subj.Admin, LoggedIn: true}
	return r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)), nil
}

// viewer is who the request comes from (zero: anonymous).
func viewer(r *http.Request) Viewer {
	v, _ := r.Context().Value(viewerKey{}).(Viewer)
	return v
}

// startSession records a new session for subj and sets its cookie.
func (u *UI) startSession(w http.ResponseWriter, r *http.Request, subj *auth.Subject) error {
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	now := u.now()
	s := meta.Session{ID: sessionID(secret), User: subj.Name, Source: subj.Source,
		CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(u.cfg.Session.MaxAge)}
	if err := u.sessions.CreateSession(r.Context(), s); err != nil {
		return err
	}
	// Sessions that ended without a log-out go now: log-ins are rare
	// enough, and no scheduler is needed.
	if _, err := u.sessions.PurgeSessions(r.Context(), now.Add(-u.cfg.Session.IdleTimeout), now); err != nil {
		u.log.WarnContext(r.Context(), "ui: purging old sessions", "error", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: secret, Path: "/", Expires: s.ExpiresAt,
		HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// endSession deletes the request's session (everywhere) and its cookie.
func (u *UI) endSession(w http.ResponseWriter, r *http.Request) error {
	u.clearCookie(w, r)
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	return u.sessions.DeleteSession(r.Context(), sessionID(c.Value))
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteLaxMode})
}

// secure reports whether the client reached Berth over TLS (directly or
// through a trusted proxy): the session cookie is then Secure.
func (u *UI) secure(r *http.Request) bool {
	if u.auth != nil {
		return u.auth.SecureRequest(r)
	}
	return r.TLS != nil
}
