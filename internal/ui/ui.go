// Package ui is Berth's web UI: server-rendered pages (html/template,
// each view parsed from embedded files on its first render), embedded static assets under
// content-hashed names, message catalogs in English and Simplified
// Chinese, log-in sessions kept in the metadata database, and
// cross-origin request protection on every state-changing request.
//
// The UI holds no rule of its own: pages call the same service methods
// as the management API, and permissions are checked by the same code
// (the Access the app gives it). See README.md here for how to add a
// page, and docs/ui.md for what each page does.
package ui

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
)

// Access is the permission code the UI shares with the API; the app
// implements it over internal/auth (everything allowed with auth.mode
// none).
type Access interface {
	// Authorize checks a management API permission for r, exactly as the
	// management API does ({project} is r's path value).
	Authorize(r *http.Request, perm manage.Permission) error
	// Allowed reports whether r may do action (pull, push, delete) on
	// repo, as on /v2/ (without creating a project).
	Allowed(r *http.Request, repo, action string) bool
	// MayCreateProject reports whether r may create projects, as
	// POST /api/v1/projects decides.
	MayCreateProject(r *http.Request) bool
	// Visible filters the repositories (and projects) r may see; nil: all.
	Visible(r *http.Request) (func(repo string) bool, error)
}

// Options are what the UI needs from the app.
type Options struct {
	Config config.UI
	// Auth authenticates log-ins and finds session users; nil with
	// auth.mode none (no log-in, everything visible).
	Auth     *auth.Service
	Sessions meta.SessionStore
	// SSO, when auth.mode has oidc, offers "Sign in with ..." (nil: off).
	SSO    SSO
	Access Access
	// Services the pages call (the same the management API calls).
	Services Services
	Log      *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// UI serves the web UI.
type UI struct {
	cfg      config.UI
	auth     *auth.Service
	sessions meta.SessionStore
	sso      SSO
	access   Access
	svc      Services
	log      *slog.Logger
	now      func() time.Time
	cats     catalogs
	assets   *assets
	views    *views
	cop      *http.CrossOriginProtection
}

// New loads the catalogs, assets and templates.
func New(o Options) (*UI, error) {
	u := &UI{cfg: o.Config, auth: o.Auth, sessions: o.Sessions, sso: o.SSO, access: o.Access, svc: o.Services, log: o.Log, now: o.Now}
	if u.now == nil {
		u.now = time.Now
	}
	var err error
	if u.cats, err = loadCatalogs(); err != nil {
		return nil, err
	}
	if u.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if u.views, err = newViews(u.assets); err != nil {
		return nil, err
	}
	u.cop = http.NewCrossOriginProtection()
	u.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, errCrossOrigin)
	}))
	return u, nil
}

// HandlerFunc is a UI handler: it writes a page or a redirect, or returns
// an error that becomes an error page.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one entry of the UI's route table (routes.go).
type Route struct {
	Name    string // label in logs and metrics, e.g. "ui_projects"
	Method  string
	Pattern string // http.ServeMux pattern without the method
	// Perm is checked before the handler, as on the management API.
	Perm   manage.Permission
	Handle HandlerFunc
}

// Mount registers the UI's routes on mux, each wrapped in the UI's
// middleware: security headers, cross-origin protection on unsafe
// methods, the session, the permission check.
func (u *UI) Mount(mux *http.ServeMux) {
	for _, rt := range append(u.routes(), u.adminRoutes()...) { // routes.go, routes_admin.go
		h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			api.Info(r).Route = rt.Name
			r, err := u.withSession(w, r)
			if err == nil {
				err = u.access.Authorize(r, rt.Perm)
			}
			if err == nil {
				err = rt.Handle(w, r)
			}
			if err != nil {
				u.fail(w, r, err)
			}
		}))
		pattern := rt.Pattern
		if rt.Method != "" {
			pattern = rt.Method + " " + pattern
		}
		mux.Handle(pattern, u.headers(u.cop.Handler(h)))
	}
}

// headers sets the security headers of every UI response.
func (u *UI) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy allows this origin's own files only: no inline
// script or style, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Errors the UI's handlers return besides those of lower layers.
var (
	errNotFound    = errors.New("ui: not found")
	errCrossOrigin = errors.New("ui: cross-origin request refused")
)
