package ui

import (
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
)

// routes is the UI's route table: every page and form, with the
// permission the management API asks for the same data. internal/app
// mounts it (routes.go). Pages read with GET; forms POST (the
// cross-origin protection covers every POST).
func (u *UI) routes() []Route {
	const project = "/ui/projects/{project}"
	return []Route{
		{Name: "ui_home", Method: http.MethodGet, Pattern: "/{$}", Perm: manage.PermPublic, Handle: u.home},
		{Name: "ui_home", Method: http.MethodGet, Pattern: "/ui/{$}", Perm: manage.PermPublic, Handle: u.home},
		{Name: "ui_static", Method: http.MethodGet, Pattern: staticPrefix + "{name}", Perm: manage.PermPublic, Handle: u.assets.serve},
		{Name: "ui_login", Method: http.MethodGet, Pattern: "/ui/login", Perm: manage.PermPublic, Handle: u.loginPage},
		{Name: "ui_login", Method: http.MethodPost, Pattern: "/ui/login", Perm: manage.PermPublic, Handle: u.login},
		{Name: "ui_logout", Method: http.MethodPost, Pattern: "/ui/logout", Perm: manage.PermPublic, Handle: u.logout},
		{Name: "ui_lang", Method: http.MethodPost, Pattern: "/ui/lang", Perm: manage.PermPublic, Handle: u.setLang},
		{Name: "ui_not_found", Method: "", Pattern: "/ui/", Perm: manage.PermPublic, Handle: u.notFound},
		{Name: "ui_projects", Method: http.MethodGet, Pattern: "/ui/projects", Perm: manage.PermPublic, Handle: u.projects},
	}
}

// notFound is the page for every other path under /ui/.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }
