package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauth2-proxy/mockoidc"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// startSSO runs mockoidc (a real OpenID Connect provider on loopback that
// approves every login as the user queued next, with a groups claim) and
// Berth with builtin users and single sign-on through it.
func startSSO(t *testing.T, edit func(*config.Config)) (*apptest.Server, *mockoidc.MockOIDC) {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	mc := m.Config()
	s := startAuth(t, func(c *config.Config) {
		c.Auth.Mode = "builtin,oidc"
		o := &c.Auth.OIDC
		o.Name, o.Issuer, o.ClientID, o.ClientSecret = "MockOIDC", mc.Issuer, mc.ClientID, mc.ClientSecret
		o.Scopes = []string{"openid", "profile", "email", "groups"}
		o.GroupsClaim, o.AdminGroup = "groups", "registry-admins"
		c.Auth.AccessTokens.MaxTTL = 30 * 24 * time.Hour
		if edit != nil {
			edit(c)
		}
	})
	return s, m
}

// ssoLogin signs in through the provider as a browser does: Berth's
// redirect to the provider, the provider's back to the callback; it
// returns the callback's answer.
func ssoLogin(t *testing.T, b *browser, m *mockoidc.MockOIDC, user *mockoidc.MockUser) page {
	t.Helper()
	if user != nil {
		m.QueueUser(user)
	}
	p := b.get("/ui/oidc/login?next=/ui/user")
	if p.status != http.StatusFound {
		return p
	}
	to := p.header.Get("Location")
	if !strings.HasPrefix(to, m.AuthorizationEndpoint()+"?") || !strings.Contains(to, "code_challenge_method=S256") || !strings.Contains(to, "nonce=") {
		t.Fatalf("redirect to the provider: %s", to)
	}
	res, err := b.c.Get(to) // the provider approves at once
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back := res.Header.Get("Location")
	if !strings.HasPrefix(back, b.base+"/ui/oidc/callback?") {
		t.Fatalf("provider sent the browser to %q (%d)", back, res.StatusCode)
	}
	return b.get(strings.TrimPrefix(back, b.base))
}

var patRe = regexp.MustCompile(`bpat_[0-9a-f]{16}_[0-9a-f]{64}`)

func TestSSOLoginGroupsAndTokens(t *testing.T) {
	s, m := startSSO(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/group/devs", `{"role":"developer"}`, 200)
	jane := &mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Email: "jane@example.com", Groups: []string{"devs", "design"}}

	b := newBrowser(t, s.URL)
	want(t, "login page", b.get("/ui/login"), 200, "Sign in with MockOIDC", `href="/ui/oidc/login?next=%2Fui%2F"`, `name="password"`)
	p := ssoLogin(t, b, m, jane)
	wantDone(t, "callback", p, "/ui/user")
	want(t, "user page", b.get("/ui/user"), 200, "jane", "oidc", "devs", `href="/ui/projects/team"`, "docker login -u jane -p TOKEN", "at most 30 days")
	if strings.Contains(b.get("/ui/user").body, `action="/ui/user/password"`) {
		t.Fatal("an SSO user is offered a password form")
	}
	users := api(t, s.URL, admin, "GET", "/api/v1/users", "", 200)
	if !strings.Contains(users, `"name":"jane","admin":false,"disabled":false,"sso":true`) {
		t.Fatalf("users: %s", users)
	}

	// A token without an expiry, or past the maximum, is refused.
	for _, days := range []string{"", "31"} {
		p := b.post("/ui/user/tokens", url.Values{"name": {"cli"}, "expires_days": {days}})
		want(t, "token expiring in "+days, p, http.StatusUnprocessableEntity, "tokens must expire here")
	}
	p = b.post("/ui/user/tokens", url.Values{"name": {"cli"}, "expires_days": {"30"}})
	want(t, "token", p, 200, "Token cli created")
	token := patRe.FindString(p.body)
	if token == "" {
		t.Fatalf("no token in the page:\n%s", p.body)
	}
	jt := cred{"jane", token}

	// The token stands in for a password: docker login -u jane -p TOKEN.
	blob := []byte("a layer")
	push := func(repo string) int {
		d := digest.FromBytes(blob)
		return tokenDo(t, jt, "POST", s.URL+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), blob, nil).status
	}
	if st := push("team/app"); st != http.StatusCreated {
		t.Fatalf("push with the token as a member of group devs: %d", st)
	}
	if st := push("other/app"); st == http.StatusCreated {
		t.Fatal("push to a project jane is no member of")
	}
	var me struct {
		Name, Source string
		Admin        bool
		Groups       []string
	}
	json.Unmarshal([]byte(api(t, s.URL, jt, "GET", "/api/v1/me", "", 200)), &me)
	if me.Name != "jane" || me.Admin || strings.Join(me.Groups, ",") != "design,devs" {
		t.Fatalf("me with the token: %+v", me)
	}
	// The API manages tokens too, with a token.
	api(t, s.URL, jt, "POST", "/api/v1/me/tokens", `{"name":"never"}`, 400)
	api(t, s.URL, jt, "POST", "/api/v1/me/tokens", `{"name":"ci","expires_in":"240h"}`, 201)
	api(t, s.URL, jt, "PUT", "/api/v1/me/password", `{"password":"a-password-1"}`, 403)

	// jane leaves group devs at the provider: the next login stores it,
	// and the token no longer pushes or pulls in team.
	wantDone(t, "login without devs", ssoLogin(t, newBrowser(t, s.URL), m,
		&mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"design"}}), "/ui/user")
	if st := push("team/app"); st == http.StatusCreated {
		t.Fatal("push with the token after leaving the group")
	}
	res := tokenDo(t, jt, "GET", s.URL+"/v2/team/app/blobs/"+digest.FromBytes(blob).String(), nil, nil)
	if res.status == http.StatusOK {
		t.Fatal("pull with the token after leaving the group")
	}

	// In the admin group, jane is a system administrator.
	wantDone(t, "login as admin", ssoLogin(t, newBrowser(t, s.URL), m,
		&mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"registry-admins"}}), "/ui/user")
	json.Unmarshal([]byte(api(t, s.URL, jt, "GET", "/api/v1/me", "", 200)), &me)
	if !me.Admin {
		t.Fatalf("member of the admin group: %+v", me)
	}
	api(t, s.URL, jt, "GET", "/api/v1/users", "", 200)

	// Disabled here: the token, the session and the next login fail.
	api(t, s.URL, admin, "PATCH", "/api/v1/users/jane", `{"disabled":true}`, 200)
	api(t, s.URL, jt, "GET", "/api/v1/me", "", 401)
	want(t, "disabled login", ssoLogin(t, newBrowser(t, s.URL), m, jane), http.StatusForbidden, "Your account here is disabled.")
	if p := b.get("/ui/user"); p.status == http.StatusOK && strings.Contains(p.body, "Personal access tokens") {
		t.Fatal("the disabled user's session still works")
	}
}

func TestSSORefusals(t *testing.T) {
	s, m := startSSO(t, func(c *config.Config) { c.Auth.OIDC.AutoOnboard = false })
	admin := cred{"admin", adminPassword}

	// Auto-onboarding is off: an unknown user gets a page saying so.
	bob := &mockoidc.MockUser{Subject: "sub-bob", PreferredUsername: "bob"}
	want(t, "not onboarded", ssoLogin(t, newBrowser(t, s.URL), m, bob), http.StatusForbidden, "no account here yet")
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"bob","sso":true,"password":"x"}`, 400)
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"bob","sso":true}`, 201)
	wantDone(t, "made beforehand", ssoLogin(t, newBrowser(t, s.URL), m, bob), "/ui/user")
	// No password makes bob a builtin user.
	api(t, s.URL, admin, "PATCH", "/api/v1/users/bob", `{"password":"a-password-1"}`, 400)
	api(t, s.URL, cred{"bob", "!external"}, "GET", "/api/v1/me", "", 401)

	// A provider's name that is a local user's does not log in as them.
	want(t, "name taken", ssoLogin(t, newBrowser(t, s.URL), m, &mockoidc.MockUser{Subject: "sub-x", PreferredUsername: "admin"}),
		http.StatusForbidden, "belongs to another account")
	// Nor another account's of the provider.
	want(t, "name of another account", ssoLogin(t, newBrowser(t, s.URL), m, &mockoidc.MockUser{Subject: "sub-bob2", PreferredUsername: "bob"}),
		http.StatusForbidden, "belongs to another account")

	// A callback without the login's cookie, or with another state.
	b := newBrowser(t, s.URL)
	want(t, "no login in progress", b.get("/ui/oidc/callback?code=x&state=y"), http.StatusForbidden, "Single sign-on failed")
	p := b.get("/ui/oidc/login")
	if p.status != http.StatusFound {
		t.Fatalf("login: %d", p.status)
	}
	want(t, "state mismatch", b.get("/ui/oidc/callback?code=x&state=forged"), http.StatusForbidden, "Single sign-on failed")

	// The provider goes down between the redirect and the callback: the
	// code cannot be exchanged.
	b = newBrowser(t, s.URL)
	to := b.get("/ui/oidc/login").header.Get("Location")
	res, err := b.c.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	m.Shutdown()
	want(t, "provider down at the callback", b.get(strings.TrimPrefix(res.Header.Get("Location"), s.URL)),
		http.StatusServiceUnavailable, "cannot be reached", `name="password"`)
	newBrowser(t, s.URL).login("admin", adminPassword)
}

// A provider that is down when Berth starts and at the login: a clear
// page, and local users still log in.
func TestSSOProviderDown(t *testing.T) {
	s, m := startSSO(t, nil)
	m.Shutdown()
	want(t, "provider down", newBrowser(t, s.URL).get("/ui/oidc/login"), http.StatusServiceUnavailable, "cannot be reached", `name="password"`)
	newBrowser(t, s.URL).login("admin", adminPassword)
}

// With auth.oidc.refresh_interval, a job asks the provider between logins
// what groups each user has now: a group left at the provider ends the
// access of the user's token without a new login, and a refresh token the
// provider refuses takes every group away.
func TestSSOPeriodicGroupCheck(t *testing.T) {
	s, m := startSSO(t, func(c *config.Config) { c.Auth.OIDC.RefreshInterval = time.Hour })
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team/members/group/devs", `{"role":"developer"}`, 200)
	jane := &mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"devs"}}
	b := newBrowser(t, s.URL)
	wantDone(t, "login", ssoLogin(t, b, m, jane), "/ui/user")
	token := patRe.FindString(b.post("/ui/user/tokens", url.Values{"name": {"cli"}, "expires_days": {"7"}}).body)
	jt := cred{"jane", token}
	groups := func() string {
		var me struct{ Groups []string }
		json.Unmarshal([]byte(api(t, s.URL, jt, "GET", "/api/v1/me", "", 200)), &me)
		return strings.Join(me.Groups, ",")
	}
	if g := groups(); g != "devs" {
		t.Fatalf("groups after login: %q", g)
	}
	run := func() string {
		rep, err := s.App.Jobs().RunNow(context.Background(), app.OIDCRefreshJob, "")
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	jane.Groups = []string{"sales"} // left devs at the provider
	if rep := run(); rep != `{"checked":1,"refused":0}` {
		t.Fatalf("report %s", rep)
	}
	if g := groups(); g != "sales" {
		t.Fatalf("groups after the check: %q", g)
	}
	api(t, s.URL, jt, "GET", "/api/v1/projects/team/network-rule", "", 403)

	// The provider no longer takes the refresh token (it expired there).
	m.FastForward(2 * time.Hour)
	if rep := run(); rep != `{"checked":0,"refused":1}` {
		t.Fatalf("report %s", rep)
	}
	if g := groups(); g != "" {
		t.Fatalf("groups after a refused refresh: %q", g)
	}
}

// idToken gets an ID token from mockoidc by the code flow, as automation
// holding one would have it.
func idToken(t *testing.T, m *mockoidc.MockOIDC, user *mockoidc.MockUser) string {
	t.Helper()
	m.QueueUser(user)
	mc := m.Config()
	q := url.Values{"client_id": {mc.ClientID}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "state": {"s"},
		"scope": {"openid profile groups"}, "response_type": {"code"}, "nonce": {"n"}}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(m.AuthorizationEndpoint() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	res, err = http.PostForm(m.TokenEndpoint(), url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"client_id": {mc.ClientID}, "client_secret": {mc.ClientSecret}, "redirect_uri": {"http://127.0.0.1:1/cb"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tr struct {
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil || tr.IDToken == "" {
		t.Fatalf("token endpoint: %v", err)
	}
	return tr.IDToken
}

// auth.oidc.api_bearer: the provider's ID token of a user who logged in
// once is accepted on /api/v1 (off by default), not on /v2/.
func TestSSOIDTokenOnAPI(t *testing.T) {
	jane := func() *mockoidc.MockUser {
		return &mockoidc.MockUser{Subject: "sub-jane", PreferredUsername: "jane", Groups: []string{"devs"}}
	}
	for _, on := range []bool{false, true} {
		s, m := startSSO(t, func(c *config.Config) { c.Auth.OIDC.APIBearer = on })
		wantDone(t, "login", ssoLogin(t, newBrowser(t, s.URL), m, jane()), "/ui/user")
		tok := idToken(t, m, jane())
		res := send(t, "GET", s.URL+"/api/v1/me", "Bearer "+tok, nil, nil)
		if !on {
			if res.status != http.StatusUnauthorized {
				t.Fatalf("ID token with api_bearer off: %d %s", res.status, res.body)
			}
			continue
		}
		if res.status != 200 || !strings.Contains(res.body, `"name":"jane"`) || !strings.Contains(res.body, `"groups":["devs"]`) {
			t.Fatalf("ID token: %d %s", res.status, res.body)
		}
		if res := send(t, "GET", s.URL+"/api/v1/me", "Bearer "+tok[:len(tok)-4]+"AAAA", nil, nil); res.status != http.StatusUnauthorized {
			t.Fatalf("tampered ID token: %d", res.status)
		}
		if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok, nil, nil); res.status != http.StatusUnauthorized {
			t.Fatalf("ID token on /v2/: %d", res.status)
		}
		// A user who never logged in here is unknown.
		other := idToken(t, m, &mockoidc.MockUser{Subject: "sub-bob", PreferredUsername: "bob"})
		if res := send(t, "GET", s.URL+"/api/v1/me", "Bearer "+other, nil, nil); res.status != http.StatusUnauthorized {
			t.Fatalf("ID token of an unknown user: %d", res.status)
		}
	}
}
