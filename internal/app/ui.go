package app

import (
	"context"
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/scrub"
	"github.com/berth-registry/berth/internal/ui"
)

// newUI builds the web UI over the same services and permission code as
// the management API.
func (a *App) newUI() error {
	var sso ui.SSO
	if a.sso != nil {
		sso = a.sso
	}
	var err error
	a.ui, err = ui.New(ui.Options{
		SSO:      sso,
		Config:   a.cfg.UI,
		Auth:     a.auth,
		Sessions: a.meta,
		Access:   uiAccess{a},
		Services: ui.Services{Registry: a.svc, Manager: a.mgr, Policy: a.policy, Events: a.events, Trust: a.trust, Scan: a.scan, Admin: a.uiAdminServices()},
		Log:      a.log,
	})
	return err
}

// uiAccess gives the UI the management API's and /v2/'s permission
// checks; with auth.mode none everything is allowed, as on the API.
type uiAccess struct{ a *App }

func (u uiAccess) Authorize(r *http.Request, perm manage.Permission) error {
	return u.a.authorizeAPI(r, perm)
}

func (u uiAccess) Allowed(r *http.Request, repo, action string) bool {
	if u.a.auth == nil {
		return true
	}
	return u.a.auth.Permits(r, repo, action)
}

func (u uiAccess) MayCreateProject(r *http.Request) bool {
	if u.a.auth == nil {
		return true
	}
	return u.a.auth.MayCreateProject(r.Context(), auth.SubjectOf(r))
}

func (u uiAccess) Visible(r *http.Request) (func(string) bool, error) { return u.a.visibleRepos(r) }

// visibleRepos filters the repositories r may see, as the catalog does
// (nil: all, with auth.mode none).
func (a *App) visibleRepos(r *http.Request) (func(string) bool, error) {
	if a.auth == nil {
		return nil, nil
	}
	return a.auth.Visible(r)
}

// uiAdminServices are the objects the management pages call: the same
// the matching /api/v1 handlers use (routes.go).
func (a *App) uiAdminServices() ui.AdminServices {
	return ui.AdminServices{Retention: a.retain, GC: gc.NewAPI(a.jobs), Scrub: scrub.NewAPI(a.jobs), Proxy: a.proxy,
		ProxySync: &proxy.SyncAPI{Proxy: a.proxy, Jobs: a.jobs}, Audit: a.meta, System: a.system, Anomalies: a.anomaly,
		Replication: a.repl, Backup: a.backupService()}
}

// FlushPullStats writes the pulls gathered in memory now (they are
// written every few seconds anyway); for tests and shutdown.
func (a *App) FlushPullStats(ctx context.Context) error { return a.svc.FlushPulls(ctx) }
