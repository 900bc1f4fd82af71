// Package authapi serves the HTTP side of access control: the token
// endpoint of Docker's token authentication (GET with Basic credentials,
// POST with the OAuth2 password and refresh-token grants), the JWK Set of
// the token signing keys, and the management API for users, projects,
// members, robot accounts, access tokens and settings (docs/api.md).
package authapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Handlers serves the token endpoint and the access-control management API.
type Handlers struct {
	auth *auth.Service // nil when access control is off
	mgr  *auth.Manager
	log  *slog.Logger
}

// New returns the handlers; svc is nil when access control is off (the
// management API then works for anyone, like the rest of the registry).
func New(svc *auth.Service, mgr *auth.Manager, log *slog.Logger) *Handlers {
	return &Handlers{auth: svc, mgr: mgr, log: log}
}

// apiErr turns store and validation errors into management API errors.
func apiErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrInvalid):
		return manage.BadRequest(err.Error())
	case errors.Is(err, meta.ErrNotFound):
		return manage.NotFound(trimMeta(err))
	case errors.Is(err, meta.ErrExists), errors.Is(err, auth.ErrNotEmpty):
		return manage.Conflict(trimMeta(err))
	}
	return err
}

// trimMeta drops the "meta: " prefix of store errors.
func trimMeta(err error) string {
	s := err.Error()
	if len(s) > 6 && s[:6] == "meta: " {
		return s[6:]
	}
	return s
}

// subject is the caller (nil when anonymous or with access control off).
func subject(r *http.Request) *auth.Subject { return auth.SubjectOf(r) }

// expiry reads an optional expiry: expires_at (RFC 3339) or expires_in
// (a duration such as 720h).
func expiry(at *time.Time, in string) (time.Time, error) {
	switch {
	case at != nil && in != "":
		return time.Time{}, manage.BadRequest("set expires_at or expires_in, not both")
	case at != nil:
		return *at, nil
	case in != "":
		d, err := time.ParseDuration(in)
		if err != nil || d <= 0 {
			return time.Time{}, manage.BadRequest(fmt.Sprintf("expires_in %q is not a positive duration (e.g. 720h)", in))
		}
		return time.Now().Add(d), nil
	}
	return time.Time{}, nil
}

// optTime is a JSON time that is omitted when zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func forbidden(msg string) error { return oci.NewError(oci.CodeDenied, msg) }
