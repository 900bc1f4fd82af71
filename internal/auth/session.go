package auth

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/meta"
)

// LookupUser finds a user by name in the sources of users, without a
// password (the web UI re-reads its session's user on every request, so
// a deleted user or a changed role takes effect at once). ErrUnknownUser
// when no source knows them.
func (s *Service) LookupUser(ctx context.Context, name string) (*Subject, error) {
	return s.lookupUser(ctx, name)
}

// WithSubject returns r acting as subj (a user of a web UI session), so
// that every check of this package (CheckAPI, Allowed, Visible, Actions)
// treats it as the management API treats a user who sent a password.
func (s *Service) WithSubject(r *http.Request, subj *Subject) *http.Request {
	ctx := r.Context()
	if subj != nil {
		api.Info(r).User = subj.Name
		ctx = meta.WithEventSource(ctx, subj.Name, "")
	}
	return r.WithContext(context.WithValue(ctx, identityKey{}, &identity{subj: subj}))
}

// SecureRequest reports whether the client reached Berth over TLS:
// directly, or through a trusted proxy (http.trusted_proxies) that says
// so in X-Forwarded-Proto.
func (s *Service) SecureRequest(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return s.fromTrustedProxy(r) && strings.EqualFold(firstValue(r.Header.Get("X-Forwarded-Proto")), "https")
}

// MayCreateProject reports whether subj may create projects: a user who
// is an administrator, or any user when the project_creation setting is
// "users". The management API and the web UI both ask it.
func (s *Service) MayCreateProject(ctx context.Context, subj *Subject) bool {
	return s.mayCreate(ctx, subj)
}

// Permits reports whether r may do action (pull, push, delete) on repo,
// as the /v2/ checks decide, but without the side effect of a push (it
// never creates a project): what the web UI asks before showing or
// running an action.
func (s *Service) Permits(r *http.Request, repo, action string) bool {
	id := identityOf(r)
	if id.err != nil {
		return false
	}
	if id.bearer {
		return grants(id.access, TypeRepository, repo, action)
	}
	acts, err := s.Actions(r.Context(), id.subj, repo, false)
	if err != nil {
		s.log.ErrorContext(r.Context(), "authorization failed", "repo", repo, "error", err)
		return false
	}
	return slices.Contains(acts, action)
}
