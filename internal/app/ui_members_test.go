package app_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestUIMembers(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"guest","password":"guest-password"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/user/guest", `{"role":"guest"}`, 200)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/projects/team/members"

	for _, tc := range []struct {
		name       string
		form       url.Values
		lang       string
		wantErrors []string
	}{
		{"bad user name", url.Values{"kind": {"user"}, "name": {"two words"}, "role": {"developer"}}, "", []string{"Enter a valid name"}},
		{"bad user name, Chinese", url.Values{"kind": {"user"}, "name": {"two words"}, "role": {"developer"}}, "zh-CN", []string{"请输入有效的名称"}},
		{"no name", url.Values{"kind": {"group"}, "name": {""}, "role": {"guest"}}, "", []string{"Enter a valid name"}},
		{"bad role", url.Values{"kind": {"user"}, "name": {"bob"}, "role": {"owner"}}, "", []string{"Choose one of the roles."}},
		{"bad kind", url.Values{"kind": {"team"}, "name": {"bob"}, "role": {"guest"}}, "", []string{"Choose user or LDAP group."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.do("POST", base, tc.form, map[string]string{"Accept-Language": tc.lang})
			want(t, tc.name, p, http.StatusUnprocessableEntity, tc.wantErrors...)
			if n := tc.form.Get("name"); n != "" && !strings.Contains(p.body, `value="`+n+`"`) {
				t.Errorf("the typed name %q is not shown again", n)
			}
		})
	}
	// A hostile user name and an LDAP group with markup: shown as text.
	wantDone(t, "add user", b.post(base, url.Values{"kind": {"user"}, "name": {hostile}, "role": {"developer"}}), base)
	wantDone(t, "add group", b.post(base, url.Values{"kind": {"group"}, "name": {`cn=<b>ops</b>,dc="x"`}, "role": {"maintainer"}}), base)
	p := b.get(base)
	want(t, "members", p, 200, "The member is saved.", escaped, `cn=&lt;b&gt;ops&lt;/b&gt;,dc=&#34;x&#34;`, "LDAP group")
	if strings.Contains(p.body, hostile) || strings.Contains(p.body, "<b>ops") {
		t.Fatal("a member name is not escaped")
	}
	// Change a role, then remove.
	wantDone(t, "change role", b.post(base, url.Values{"kind": {"user"}, "name": {"guest"}, "role": {"maintainer"}}), base)
	if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/members", "", 200); !strings.Contains(body, `{"kind":"user","name":"guest","role":"maintainer"}`) {
		t.Fatalf("role not changed: %s", body)
	}
	wantDone(t, "remove", b.post(base+"/delete", url.Values{"kind": {"group"}, "name": {`cn=<b>ops</b>,dc="x"`}}), base)
	if body := api(t, s.URL, admin, "GET", "/api/v1/projects/team/members", "", 200); strings.Contains(body, "ops") {
		t.Fatalf("group not removed: %s", body)
	}
	// A guest sees the members, without forms; cannot post.
	g := newBrowser(t, s.URL)
	g.login("guest", "guest-password")
	want(t, "members as guest", g.get(base), 200, escaped)
	if p := g.get(base); strings.Contains(p.body, `action="/ui/projects/team/members/delete"`) {
		t.Fatal("a guest sees the remove forms")
	}
	want(t, "guest adds", g.post(base, url.Values{"kind": {"user"}, "name": {"x"}, "role": {"admin"}}), http.StatusForbidden)
	want(t, "unknown project", b.get("/ui/projects/nope/members"), http.StatusNotFound)
}

func TestUIRobots(t *testing.T) {
	s := startUI(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	b := newBrowser(t, s.URL)
	b.login("admin", adminPassword)
	const base = "/ui/projects/team/robots"
	want(t, "robots", b.get(base), 200, "This project has no robot accounts.", `value="pull" checked`)

	for _, tc := range []struct {
		name    string
		form    url.Values
		lang    string
		wantErr string
	}{
		{"bad name", url.Values{"name": {"CI Bot"}, "actions": {"pull"}}, "", "Use lower-case letters"},
		{"no actions", url.Values{"name": {"ci"}}, "", "Tick at least one permission."},
		{"no actions, Chinese", url.Values{"name": {"ci"}}, "zh-CN", "请至少勾选一项权限。"},
		{"bad expiry", url.Values{"name": {"ci"}, "actions": {"pull"}, "expires_days": {"-1"}}, "", "Enter a whole number of days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, tc.name, b.do("POST", base, tc.form, map[string]string{"Accept-Language": tc.lang}), http.StatusUnprocessableEntity, tc.wantErr)
		})
	}
	p := b.post(base, url.Values{"name": {"ci"}, "description": {hostile}, "actions": {"pull", "push"}, "expires_days": {"7"}})
	want(t, "create", p, 200, "shown only this once", "robot$team&#43;ci", escaped)
	if strings.Contains(p.body, hostile) {
		t.Fatal("the description is not escaped")
	}
	secret := regexp.MustCompile(`<code>([0-9a-f]{20,})</code>`).FindStringSubmatch(p.body)
	if secret == nil {
		t.Fatalf("no secret shown:\n%s", p.body)
	}
	// The secret works with a registry client's Basic credentials.
	if res := send(t, "GET", s.URL+"/v2/", cred{"robot$team+ci", secret[1]}.basic(), nil, nil); res.status != 200 {
		t.Fatalf("robot secret: %d", res.status)
	}
	if p := b.get(base); strings.Contains(p.body, secret[1]) || !strings.Contains(p.body, "pull, push") {
		t.Fatalf("robots list shows the secret again or lacks the actions:\n%s", p.body)
	}
	want(t, "taken", b.post(base, url.Values{"name": {"ci"}, "actions": {"pull"}}), http.StatusUnprocessableEntity, "already has a robot of that name")
	wantDone(t, "delete", b.post(base+"/delete", url.Values{"robot": {"ci"}}), base)
	if res := send(t, "GET", s.URL+"/v2/", cred{"robot$team+ci", secret[1]}.basic(), nil, nil); res.status != 401 {
		t.Fatalf("deleted robot: %d", res.status)
	}
}
