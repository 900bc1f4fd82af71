package app_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
)

// want fails the test unless p has status and every one of contains.
func want(t *testing.T, what string, p page, status int, contains ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: %d, want %d\n%s", what, p.status, status, p.body)
	}
	for _, c := range contains {
		if !strings.Contains(p.body, c) {
			t.Fatalf("%s: the page lacks %q\n%s", what, c, p.body)
		}
	}
}

// wantDone fails the test unless p is a form's success: 303 to location.
func wantDone(t *testing.T, what string, p page, location string) {
	t.Helper()
	if p.status != http.StatusSeeOther || p.header.Get("Location") != location {
		t.Fatalf("%s: %d Location %q, want 303 to %s\n%s", what, p.status, p.header.Get("Location"), location, p.body)
	}
}

// hostile is a name that is valid as a user name and must show as text.
const hostile = `<script>alert(1)</script>`

// escaped is how hostile must appear in a page.
const escaped = `&lt;script&gt;alert(1)&lt;/script&gt;`

func TestUIUserPage(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"alice","password":"alice-password"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/alice", `{"role":"developer"}`, 200)
	b := newBrowser(t, s.URL)
	b.login("alice", "alice-password")

	want(t, "user page", b.get("/ui/user"), 200, "My account", `href="/ui/projects/team"`, "developer", "You have no access tokens.")

	t.Run("password", func(t *testing.T) {
		tests := []struct {
			name, pw, confirm, lang, wantErr string
		}{
			{"empty", "", "", "", "Enter a new password."},
			{"mismatch", "new-password-1", "other", "", "The two passwords differ."},
			{"too short (service)", "short", "short", "", "A password needs at least 8 characters"},
			{"too short, in Chinese", "short", "short", "zh-CN", "密码至少 8 个字符"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				p := b.do("POST", "/ui/user/password", url.Values{"password": {tc.pw}, "confirm": {tc.confirm}}, map[string]string{"Accept-Language": tc.lang})
				want(t, tc.name, p, http.StatusUnprocessableEntity, `class="field-error"`, tc.wantErr)
			})
		}
		wantDone(t, "change", b.post("/ui/user/password", url.Values{"password": {"alice-new-pass"}, "confirm": {"alice-new-pass"}}), "/ui/user")
		want(t, "flash", b.get("/ui/user"), 200, "Your password is changed.")
		api(t, s.URL, cred{"alice", "alice-new-pass"}, "GET", "/api/v1/me", "", 200)
	})

	t.Run("tokens", func(t *testing.T) {
		for _, tc := range []struct{ name, token, days, wantErr string }{
			{"no name", "", "", "Give the token a name"},
			{"bad expiry", "ci", "soon", "Enter a whole number of days"},
			{"expiry too far", "ci", "99999", "Enter a whole number of days"},
		} {
			p := b.post("/ui/user/tokens", url.Values{"name": {tc.token}, "expires_days": {tc.days}})
			want(t, tc.name, p, http.StatusUnprocessableEntity, tc.wantErr)
		}
		p := b.post("/ui/user/tokens", url.Values{"name": {hostile}, "expires_days": {"30"}})
		want(t, "create", p, 200, "shown only this once", escaped)
		if strings.Contains(p.body, hostile) {
			t.Fatal("the token name is not escaped")
		}
		token := regexp.MustCompile(`data-copy="(bpat_[^"]+)"`).FindStringSubmatch(p.body)
		if token == nil {
			t.Fatalf("no token to copy:\n%s", p.body)
		}
		api(t, s.URL, cred{"alice", token[1]}, "GET", "/api/v1/me", "", 200)
		page := b.get("/ui/user")
		if strings.Contains(page.body, token[1]) {
			t.Fatal("the token is shown again")
		}
		id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(page.body)
		if id == nil {
			t.Fatalf("no revoke form:\n%s", page.body)
		}
		wantDone(t, "revoke", b.post("/ui/user/tokens/delete", url.Values{"id": {id[1]}}), "/ui/user")
		api(t, s.URL, cred{"alice", token[1]}, "GET", "/api/v1/me", "", 401)
	})
}

func TestUIUserPageNeedsLogIn(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	p := b.get("/ui/user")
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/login?next=") {
		t.Fatalf("anonymous: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.post("/ui/user/tokens", url.Values{"name": {"x"}}); p.status != http.StatusForbidden {
		t.Fatalf("anonymous token create: %d", p.status)
	}
}

// TestUIUserPageHtpasswd: a user from the htpasswd file sees their roles
// but no password or token forms (those live in the file), and cannot
// post them (403, as the API).
func TestUIUserPageHtpasswd(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("hugo-password"), 4)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte("hugo:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startUI(t, func(c *config.Config) {
		c.Auth.Mode = "builtin,htpasswd"
		c.Auth.Htpasswd.Path = file
	})
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/hugo", `{"role":"maintainer"}`, 200)
	b := newBrowser(t, s.URL)
	b.login("hugo", "hugo-password")
	p := b.get("/ui/user")
	want(t, "htpasswd user", p, 200, "<dd>htpasswd</dd>", "maintainer", "Your password is managed by your directory")
	if strings.Contains(p.body, `action="/ui/user/password"`) || strings.Contains(p.body, `action="/ui/user/tokens"`) {
		t.Fatal("an htpasswd user sees the password or token forms")
	}
	want(t, "password", b.post("/ui/user/password", url.Values{"password": {"x-long-password"}, "confirm": {"x-long-password"}}), http.StatusForbidden)
	want(t, "token", b.post("/ui/user/tokens", url.Values{"name": {"ci"}}), http.StatusForbidden)
}
