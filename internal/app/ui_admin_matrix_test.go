package app_test

import (
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// uiAdminPagesStatus are the management pages with the outcome for each role
// of the access-control matrix (matrixRoles order): "ok" (200), "login"
// (an anonymous visitor is sent to the log-in page), "deny" (403). The
// permission is that of the matching /api/v1 route. Robots cannot log in
// to the UI: they browse as anonymous visitors.
var uiAdminPagesStatus = []struct {
	path   string
	expect []string
}{
	{"/ui/user", []string{"login", "ok", "ok", "ok", "ok", "ok", "ok", "login", "login"}},
	{"/ui/projects/team-a/members", []string{"login", "ok", "ok", "ok", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/pub/members", []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
	{"/ui/projects/team-a/robots", []string{"login", "deny", "deny", "deny", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-a/policies", []string{"login", "ok", "ok", "ok", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-b/policies", []string{"login", "deny", "deny", "deny", "deny", "ok", "ok", "login", "login"}},
	{"/ui/projects/team-a/webhooks", []string{"login", "deny", "deny", "deny", "ok", "deny", "ok", "login", "login"}},
	{"/ui/admin/webhooks", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-a/signing", []string{"login", "ok", "ok", "ok", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-b/signing", []string{"login", "deny", "deny", "deny", "deny", "ok", "ok", "login", "login"}},
	{"/ui/admin", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/users", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/robots", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/gc", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/gc/status", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/scrub", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/backups", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/backups/status", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/proxy", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/replication", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/audit", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/anomalies", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/keys", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
}

// uiAdminForms are forms a page shows only to the roles that may send
// them: the page, the form's action, and who sees it (matrixRoles order).
var uiAdminForms = []struct {
	page, action string
	shown        []bool
}{
	{"/ui/projects/team-a/members", `action="/ui/projects/team-a/members/delete"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/team-a/policies", `action="/ui/projects/team-a/retention"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/team-a/members", `href="/ui/projects/team-a/robots"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/team-a/signing", `action="/ui/projects/team-a/signing/keys"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/team-a/signing", `action="/ui/projects/team-a/signing/rules"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/team-a/policies", `action="/ui/projects/team-a/quota"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects/team-a/members", `href="/ui/projects/team-a/webhooks"`, []bool{false, false, false, false, true, false, true, false, false}},
	{"/ui/projects/pub/members", `action="/ui/projects/pub/members"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects", `href="/ui/admin"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects", `href="/ui/user"`, []bool{false, true, true, true, true, true, true, false, false}},
}

// uiAdminPages turns the two tables above into rows of the UI's role
// walk (TestUIRoleWalk, ui_matrix_test.go).
func uiAdminPages(*matrix) []uiPage {
	status := map[string]int{"ok": pageOK, "login": pageLogin, "deny": pageRefused}
	var out []uiPage
	index := map[string]int{}
	for _, pg := range uiAdminPagesStatus {
		row := uiPage{path: pg.path, status: map[string]int{}, has: map[string][]string{}, lacks: map[string][]string{}}
		for i, role := range matrixRoles {
			row.status[role] = status[pg.expect[i]]
		}
		index[pg.path] = len(out)
		out = append(out, row)
	}
	for _, f := range uiAdminForms {
		i, ok := index[f.page]
		if !ok {
			i = len(out)
			index[f.page] = i
			out = append(out, uiPage{path: f.page, def: pageOK, has: map[string][]string{}, lacks: map[string][]string{}})
		}
		for r, role := range matrixRoles {
			if f.shown[r] {
				out[i].has[role] = append(out[i].has[role], f.action)
			} else {
				out[i].lacks[role] = append(out[i].lacks[role], f.action)
			}
		}
	}
	return out
}

// TestUIAdminAuthOff: with auth.mode none every page is open (as the
// API), and the account page says there is no account.
func TestUIAdminAuthOff(t *testing.T) {
	s := apptest.Start(t, nil)
	b := newBrowser(t, s.URL)
	want(t, "user", b.get("/ui/user"), 200, "there is no account to manage")
	for _, path := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/gc", "/ui/admin/keys", "/ui/admin/audit", "/ui/admin/anomalies"} {
		want(t, path, b.get(path), 200)
	}
	want(t, "keys", b.get("/ui/admin/keys"), 200, "No signing keys")
}
