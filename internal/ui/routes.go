package ui

import (
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
)

// routes is the UI's route table: every page and form, with the
// permission the management API asks for the same data. internal/app
// mounts it (routes.go). Pages read with GET; forms POST (the
// cross-origin protection covers every POST). Repository pages check
// their project's permission in the handler (authorizeRepo): a
// repository name cannot be a {project} path value.
func (u *UI) routes() []Route {
	const project = "/ui/projects/{project}"
	return []Route{
		{Name: "ui_home", Method: http.MethodGet, Pattern: "/{$}", Perm: manage.PermPublic, Handle: u.home},
		{Name: "ui_home", Method: http.MethodGet, Pattern: "/ui/{$}", Perm: manage.PermPublic, Handle: u.home},
		{Name: "ui_static", Method: http.MethodGet, Pattern: staticPrefix + "{name}", Perm: manage.PermPublic, Handle: u.assets.serve},
		{Name: "ui_favicon", Method: http.MethodGet, Pattern: "/favicon.ico", Perm: manage.PermPublic, Handle: u.assets.favicon},
		{Name: "ui_login", Method: http.MethodGet, Pattern: "/ui/login", Perm: manage.PermPublic, Handle: u.loginPage},
		{Name: "ui_login", Method: http.MethodPost, Pattern: "/ui/login", Perm: manage.PermPublic, Handle: u.login},
		{Name: "ui_oidc_login", Method: http.MethodGet, Pattern: "/ui/oidc/login", Perm: manage.PermPublic, Handle: u.ssoLogin},
		{Name: "ui_oidc_callback", Method: http.MethodGet, Pattern: "/ui/oidc/callback", Perm: manage.PermPublic, Handle: u.ssoCallback},
		{Name: "ui_logout", Method: http.MethodPost, Pattern: "/ui/logout", Perm: manage.PermPublic, Handle: u.logout},
		{Name: "ui_lang", Method: http.MethodPost, Pattern: "/ui/lang", Perm: manage.PermPublic, Handle: u.setLang},
		{Name: "ui_not_found", Method: "", Pattern: "/ui/", Perm: manage.PermPublic, Handle: u.notFound},

		{Name: "ui_search", Method: http.MethodGet, Pattern: "/ui/search", Perm: manage.PermPublic, Handle: u.search},
		{Name: "ui_projects", Method: http.MethodGet, Pattern: "/ui/projects", Perm: manage.PermPublic, Handle: u.projects},
		{Name: "ui_project_create", Method: http.MethodPost, Pattern: "/ui/projects", Perm: manage.PermAuthenticated, Handle: u.createProject},
		{Name: "ui_project", Method: http.MethodGet, Pattern: project, Perm: manage.PermProjectRead, Handle: u.project},
		{Name: "ui_project_settings", Method: http.MethodPost, Pattern: project + "/settings", Perm: manage.PermProjectAdmin, Handle: u.projectSettings},
		{Name: "ui_project_network", Method: http.MethodPost, Pattern: project + "/network", Perm: manage.PermProjectAdmin, Handle: u.projectNetwork},
		{Name: "ui_project_delete", Method: http.MethodPost, Pattern: project + "/delete", Perm: manage.PermProjectAdmin, Handle: u.deleteProject},
		{Name: "ui_repository", Method: http.MethodGet, Pattern: "/ui/repositories/{ref...}", Perm: manage.PermPublic, Handle: u.repository},
		{Name: "ui_repository_change", Method: http.MethodPost, Pattern: "/ui/repositories/{ref...}", Perm: manage.PermPublic, Handle: u.changeRepository},
	}
}

// notFound is the page for every other path under /ui/.
func (u *UI) notFound(w http.ResponseWriter, r *http.Request) error { return errNotFound }
