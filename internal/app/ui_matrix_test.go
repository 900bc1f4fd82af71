package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// uiPage is a row of the web UI's role walk: a page, the status each role
// of the access-control matrix gets, and text the page must or must not
// hold for a role. Add the rows of new pages here.
type uiPage struct {
	path string
	// status per role; roles not listed get def.
	status map[string]int
	def    int
	// has and lacks: text shown (or not) to the listed roles.
	has, lacks map[string][]string
}

// Statuses of the walk.
const (
	pageOK       = http.StatusOK
	pageLogin    = http.StatusSeeOther // anonymous: sent to the log-in page
	pageJump     = http.StatusSeeOther // search: straight to the artifact
	pageRefused  = http.StatusForbidden
	pageNotFound = http.StatusNotFound
)

// teamA is what members of team-a (and system admins) get; others are
// pageRefused, anonymous visitors sent to log in.
func teamA() map[string]int {
	return map[string]int{"anonymous": pageLogin, "robot-pull": pageLogin, "robot-expired": pageLogin, "other-admin": pageRefused}
}

// deleteButton and settingsForm mark what only some roles may do.
const (
	deleteButton = `value="delete_tag"`
	settingsForm = `/settings"`
)

func uiPages(m *matrix) []uiPage {
	members := []string{"guest", "developer", "maintainer", "project-admin", "system-admin"}
	outsiders := []string{"anonymous", "other-admin", "robot-pull", "robot-expired"}
	each := func(roles []string, s ...string) map[string][]string {
		out := map[string][]string{}
		for _, r := range roles {
			out[r] = s
		}
		return out
	}
	return []uiPage{
		{path: "/ui/", def: pageOK, has: each(members, "team-a/app"), lacks: each(outsiders, "team-a/app")},
		{path: "/", def: pageOK},
		{path: "/ui/projects", def: pageOK, has: each(append(members, outsiders...), `href="/ui/projects/pub"`),
			lacks: each(outsiders, `href="/ui/projects/team-a"`)},
		{path: "/ui/projects/team-a", status: teamA(), def: pageOK,
			has:   each([]string{"project-admin", "system-admin"}, settingsForm),
			lacks: each([]string{"guest", "developer", "maintainer"}, settingsForm)},
		{path: "/ui/projects/team-b", status: map[string]int{"anonymous": pageLogin, "robot-pull": pageLogin, "robot-expired": pageLogin,
			"guest": pageRefused, "developer": pageRefused, "maintainer": pageRefused, "project-admin": pageRefused}, def: pageOK},
		{path: "/ui/projects/pub", def: pageOK, lacks: each(append([]string{"guest", "developer", "maintainer", "project-admin"}, outsiders...), settingsForm)},
		{path: "/ui/repositories/team-a/app", status: teamA(), def: pageOK,
			has:   each([]string{"maintainer", "project-admin", "system-admin"}, deleteButton),
			lacks: each([]string{"guest", "developer"}, deleteButton)},
		{path: "/ui/repositories/team-a/app@" + m.v1.String(), status: teamA(), def: pageOK,
			has:   each([]string{"developer", "maintainer", "project-admin", "system-admin"}, `value="add_tag"`),
			lacks: each([]string{"guest"}, `value="add_tag"`, `value="delete_manifest"`)},
		{path: "/ui/repositories/team-a/app@" + m.v1.String() + "?view=vulnerabilities", status: teamA(), def: pageOK,
			has:   each([]string{"project-admin", "system-admin"}, `value="scan"`),
			lacks: each([]string{"guest", "developer", "maintainer"}, `value="scan"`)},
		{path: "/ui/repositories/pub/base", def: pageOK, lacks: each(append([]string{"guest", "developer"}, outsiders...), deleteButton)},
		{path: "/ui/search?q=app", def: pageOK, has: each(members, "team-a/app"), lacks: each(outsiders, "team-a/app")},
		{path: "/ui/search?q=team-a/app:v1", def: pageOK, status: map[string]int{"guest": pageJump, "developer": pageJump,
			"maintainer": pageJump, "project-admin": pageJump, "system-admin": pageJump}}, // members only
		{path: "/ui/no-such-page", def: pageNotFound},
	}
}

// TestUIRoleWalk walks every page of the web UI as every role of the
// access-control matrix: each sees exactly what the management API lets
// it see, checked by the same permission code.
func TestUIRoleWalk(t *testing.T) {
	m := setupMatrix(t)
	browsers := map[string]*browser{}
	for _, role := range matrixRoles {
		b := newBrowser(t, m.url)
		if c := m.creds[role]; c.user != "" {
			p := b.post("/ui/login", url.Values{"username": {c.user}, "password": {c.pass}})
			robot := strings.HasPrefix(role, "robot")
			switch {
			case robot && p.status != http.StatusUnprocessableEntity:
				t.Fatalf("%s logged in to the UI: %d", role, p.status)
			case !robot && p.status != http.StatusSeeOther:
				t.Fatalf("%s could not log in: %d %s", role, p.status, p.body)
			}
		}
		browsers[role] = b
	}
	for _, pg := range append(uiPages(m), uiAdminPages(m)...) { // ui_admin_matrix_test.go
		for _, role := range matrixRoles {
			t.Run(fmt.Sprintf("%s as %s", pg.path, role), func(t *testing.T) {
				want, ok := pg.status[role]
				if !ok {
					want = pg.def
				}
				p := browsers[role].get(pg.path)
				if p.status != want {
					t.Fatalf("%d, want %d", p.status, want)
				}
				for _, s := range pg.has[role] {
					if !strings.Contains(p.body, s) {
						t.Errorf("page lacks %q", s)
					}
				}
				for _, s := range pg.lacks[role] {
					if strings.Contains(p.body, s) {
						t.Errorf("page shows %q", s)
					}
				}
			})
		}
	}
}
