package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// uiAdminPages are the management pages with the outcome for each role
// of the access-control matrix (matrixRoles order): "ok" (200), "login"
// (an anonymous visitor is sent to the log-in page), "deny" (403). The
// permission is that of the matching /api/v1 route. Robots cannot log in
// to the UI: they browse as anonymous visitors.
var uiAdminPages = []struct {
	path   string
	expect []string
}{
	{"/ui/user", []string{"login", "ok", "ok", "ok", "ok", "ok", "ok", "login", "login"}},
	{"/ui/projects/team-a/members", []string{"login", "ok", "ok", "ok", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/pub/members", []string{"ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"}},
	{"/ui/projects/team-a/robots", []string{"login", "deny", "deny", "deny", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-a/policies", []string{"login", "ok", "ok", "ok", "ok", "deny", "ok", "login", "login"}},
	{"/ui/projects/team-b/policies", []string{"login", "deny", "deny", "deny", "deny", "ok", "ok", "login", "login"}},
	{"/ui/admin", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/users", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/gc", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/gc/status", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/scrub", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/proxy", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
	{"/ui/admin/audit", []string{"login", "deny", "deny", "deny", "deny", "deny", "ok", "login", "login"}},
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
	{"/ui/projects/team-a/policies", `action="/ui/projects/team-a/quota"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects/pub/members", `action="/ui/projects/pub/members"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects", `href="/ui/admin"`, []bool{false, false, false, false, false, false, true, false, false}},
	{"/ui/projects", `href="/ui/user"`, []bool{false, true, true, true, true, true, true, false, false}},
}

// TestUIAdminRoleWalk walks every management page as every role of the
// access-control matrix, logged in through the log-in form.
func TestUIAdminRoleWalk(t *testing.T) {
	m := setupMatrix(t)
	browsers := map[string]*browser{}
	for _, role := range matrixRoles {
		b := newBrowser(t, m.url)
		if c := m.creds[role]; c.user != "" && !strings.HasPrefix(role, "robot") {
			b.login(c.user, c.pass)
		}
		browsers[role] = b
	}
	for _, pg := range uiAdminPages {
		for i, role := range matrixRoles {
			t.Run(pg.path+"/"+role, func(t *testing.T) {
				p := browsers[role].get(pg.path)
				got := ""
				switch {
				case p.status == http.StatusOK:
					got = "ok"
				case p.status == http.StatusSeeOther && strings.HasPrefix(p.header.Get("Location"), "/ui/login?next="):
					got = "login"
				case p.status == http.StatusForbidden && strings.Contains(p.body, "You do not have permission"):
					got = "deny"
				default:
					got = p.header.Get("Location") + " " + http.StatusText(p.status)
				}
				if got != pg.expect[i] {
					t.Fatalf("%s as %s: %s, want %s", pg.path, role, got, pg.expect[i])
				}
			})
		}
	}
	for _, f := range uiAdminForms {
		for i, role := range matrixRoles {
			t.Run("form "+f.page+" "+f.action+"/"+role, func(t *testing.T) {
				p := browsers[role].get(f.page)
				if got := strings.Contains(p.body, f.action); got != f.shown[i] {
					t.Fatalf("%s as %s (%d) shows %s: %v, want %v", f.page, role, p.status, f.action, got, f.shown[i])
				}
			})
		}
	}
}

// TestUIAdminAuthOff: with auth.mode none every page is open (as the
// API), and the account page says there is no account.
func TestUIAdminAuthOff(t *testing.T) {
	s := apptest.Start(t, nil)
	b := newBrowser(t, s.URL)
	want(t, "user", b.get("/ui/user"), 200, "there is no account to manage")
	for _, path := range []string{"/ui/admin", "/ui/admin/users", "/ui/admin/gc", "/ui/admin/keys", "/ui/admin/audit"} {
		want(t, path, b.get(path), 200)
	}
	want(t, "keys", b.get("/ui/admin/keys"), 200, "No signing keys")
}
