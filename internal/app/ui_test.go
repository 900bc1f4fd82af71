package app_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// browser is a web UI client: it keeps cookies, does not follow
// redirects, and marks its forms same-origin as a browser would.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	hdr  map[string]string // sent with every request
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, hdr: map[string]string{}, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a UI response with its body read.
type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range b.hdr {
		req.Header.Set(k, v)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func (b *browser) get(path string) page { b.t.Helper(); return b.do("GET", path, nil, nil) }

func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	return b.do("POST", path, form, nil)
}

// login logs in through the form and fails the test unless it worked.
func (b *browser) login(user, pass string) {
	b.t.Helper()
	p := b.post("/ui/login", url.Values{"username": {user}, "password": {pass}, "next": {"/ui/projects"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/projects" {
		b.t.Fatalf("log-in as %s: %d %s", user, p.status, p.body)
	}
}

func startUI(t *testing.T, edit func(*config.Config)) *apptest.Server {
	t.Helper()
	return startAuth(t, edit)
}

func TestUISecurityHeaders(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	for _, path := range []string{"/", "/ui/", "/ui/login", "/ui/projects", "/ui/no/such/page"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" || p.header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, p.header)
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, " style=") {
			t.Errorf("%s: inline script or style in the page", path)
		}
	}
}

func TestUILoginLogout(t *testing.T) {
	s := startUI(t, nil)
	api(t, s.URL, cred{"admin", adminPassword}, "POST", "/api/v1/users", `{"name":"alice","password":"alice-password"}`, 201)
	b := newBrowser(t, s.URL)

	if p := b.get("/ui/"); p.status != 200 || !strings.Contains(p.body, `href="/ui/login?next=`) {
		t.Fatalf("anonymous home: %d, no log-in link", p.status)
	}
	tests := []struct {
		name, user, pass, wantErr string
	}{
		{"empty", "", "", "Enter your user name."},
		{"wrong password", "alice", "nope", "Wrong user name or password."},
		{"unknown user", "mallory", "x", "Wrong user name or password."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := b.post("/ui/login", url.Values{"username": {tc.user}, "password": {tc.pass}})
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, tc.wantErr) {
				t.Fatalf("%d, want 422 with %q:\n%s", p.status, tc.wantErr, p.body)
			}
			if p.header.Get("Set-Cookie") != "" {
				t.Fatalf("failed log-in set a cookie: %s", p.header.Get("Set-Cookie"))
			}
		})
	}

	p := b.post("/ui/login", url.Values{"username": {"alice"}, "password": {"alice-password"}, "next": {"//evil.example/"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/" {
		t.Fatalf("log-in: %d Location %q (an off-site next must not be followed)", p.status, p.header.Get("Location"))
	}
	sc := p.header.Get("Set-Cookie")
	for _, want := range []string{"berth_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("session cookie on plain HTTP is Secure: %q", sc)
	}
	if p := b.get("/ui/projects"); !strings.Contains(p.body, `<span class="user">alice</span>`) {
		t.Fatalf("logged-in page does not name alice:\n%s", p.body)
	}
	cookie := b.c.Jar.Cookies(mustURL(t, s.URL))

	if p := b.post("/ui/logout", url.Values{}); p.status != http.StatusSeeOther {
		t.Fatalf("log-out: %d", p.status)
	}
	if p := b.get("/ui/projects"); strings.Contains(p.body, `class="user"`) {
		t.Fatal("still logged in after log-out")
	}
	// The old cookie replayed: the session is gone from the database.
	old := newBrowser(t, s.URL)
	old.c.Jar.SetCookies(mustURL(t, s.URL), cookie)
	if p := old.get("/ui/projects"); strings.Contains(p.body, `class="user"`) {
		t.Fatal("a logged-out session's cookie still works")
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUIRobotsCannotLogIn(t *testing.T) {
	s := startUI(t, nil)
	a := cred{"admin", adminPassword}
	api(t, s.URL, a, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	body := api(t, s.URL, a, "POST", "/api/v1/projects/team/robots", `{"name":"ci","actions":["pull"]}`, 201)
	name := regexp.MustCompile(`"name":"([^"]+)"`).FindStringSubmatch(body)[1]
	secret := regexp.MustCompile(`"secret":"([^"]+)"`).FindStringSubmatch(body)[1]
	p := newBrowser(t, s.URL).post("/ui/login", url.Values{"username": {name}, "password": {secret}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Robot accounts cannot log in") {
		t.Fatalf("robot log-in: %d\n%s", p.status, p.body)
	}
}

func TestUIDeletedUserLosesSession(t *testing.T) {
	s := startUI(t, nil)
	a := cred{"admin", adminPassword}
	api(t, s.URL, a, "POST", "/api/v1/users", `{"name":"bob","password":"bob-password"}`, 201)
	b := newBrowser(t, s.URL)
	b.login("bob", "bob-password")
	if p := b.get("/ui/projects"); !strings.Contains(p.body, `<span class="user">bob</span>`) {
		t.Fatal("not logged in")
	}
	api(t, s.URL, a, "DELETE", "/api/v1/users/bob", "", 204)
	if p := b.get("/ui/projects"); strings.Contains(p.body, `class="user"`) {
		t.Fatal("a deleted user's session still works")
	}
}

func TestUISecureCookie(t *testing.T) {
	s := startUI(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} })
	tests := []struct {
		name       string
		hdr        map[string]string
		wantSecure bool
	}{
		{"plain http", nil, false},
		{"behind a TLS proxy", map[string]string{"X-Forwarded-Proto": "https"}, true},
		{"proxy says http", map[string]string{"X-Forwarded-Proto": "http"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, s.URL)
			p := b.do("POST", "/ui/login", url.Values{"username": {"admin"}, "password": {adminPassword}}, tc.hdr)
			if p.status != http.StatusSeeOther {
				t.Fatalf("log-in: %d", p.status)
			}
			if got := strings.Contains(p.header.Get("Set-Cookie"), "Secure"); got != tc.wantSecure {
				t.Fatalf("Secure = %v, want %v: %s", got, tc.wantSecure, p.header.Get("Set-Cookie"))
			}
		})
	}
	// An untrusted peer cannot claim TLS.
	u := startUI(t, nil)
	p := newBrowser(t, u.URL).do("POST", "/ui/login", url.Values{"username": {"admin"}, "password": {adminPassword}}, map[string]string{"X-Forwarded-Proto": "https"})
	if strings.Contains(p.header.Get("Set-Cookie"), "Secure") {
		t.Fatal("X-Forwarded-Proto from an untrusted peer made the cookie Secure")
	}
}

func TestUICrossOriginProtection(t *testing.T) {
	s := startUI(t, func(c *config.Config) { c.HTTP.TrustedProxies = []string{"127.0.0.1/32", "::1/128"} })
	host := mustURL(t, s.URL).Host
	form := url.Values{"username": {"admin"}, "password": {adminPassword}}
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"same origin (browser)", map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusSeeOther},
		{"cross site (browser)", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"plain HTTP on a LAN, Origin matches Host", map[string]string{"Sec-Fetch-Site": "", "Origin": "http://" + host}, http.StatusSeeOther},
		{"plain HTTP, foreign Origin", map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"behind a TLS proxy", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://registry.example", "Host": "registry.example", "X-Forwarded-Proto": "https"}, http.StatusSeeOther},
		{"behind a TLS proxy, foreign Origin", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example", "Host": "registry.example", "X-Forwarded-Proto": "https"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newBrowser(t, s.URL).do("POST", "/ui/login", form, tc.hdr)
			if p.status != tc.want {
				t.Fatalf("%d, want %d\n%s", p.status, tc.want, p.body)
			}
			if tc.want == http.StatusForbidden && !strings.Contains(p.body, "sent from another site") {
				t.Fatalf("refusal page does not say why:\n%s", p.body)
			}
		})
	}
}

func TestUILanguage(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	if p := b.do("GET", "/ui/login", nil, map[string]string{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}); !strings.Contains(p.body, `<html lang="zh-CN">`) || !strings.Contains(p.body, "用户名") {
		t.Fatalf("Accept-Language zh-CN did not give Chinese:\n%s", p.body)
	}
	if p := b.get("/ui/login"); !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, "User name") {
		t.Fatal("no Accept-Language did not give English")
	}
	p := b.post("/ui/lang", url.Values{"lang": {"zh-CN"}, "next": {"/ui/login"}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login" {
		t.Fatalf("switch: %d %q", p.status, p.header.Get("Location"))
	}
	if p := b.get("/ui/login"); !strings.Contains(p.body, "用户名") {
		t.Fatal("the switch was not remembered")
	}
	// Errors beside the field come in the page's language.
	if p := b.post("/ui/login", url.Values{"username": {"admin"}, "password": {"wrong"}}); !strings.Contains(p.body, "用户名或密码错误") {
		t.Fatalf("field error not in Chinese:\n%s", p.body)
	}
	if p := b.post("/ui/lang", url.Values{"lang": {"xx"}}); p.status != http.StatusBadRequest {
		t.Fatalf("unknown language: %d", p.status)
	}
}

func TestUIStaticAssets(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	home := b.get("/ui/")
	urls := regexp.MustCompile(`(/ui/static/berth\.[0-9a-f]{12}\.(?:css|js))`).FindAllString(home.body, -1)
	if len(urls) != 2 {
		t.Fatalf("asset URLs in the page: %v", urls)
	}
	for _, u := range urls {
		p := b.get(u)
		if p.status != 200 || p.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || p.body == "" {
			t.Errorf("%s: %d %q", u, p.status, p.header.Get("Cache-Control"))
		}
	}
	if p := b.get("/ui/static/berth.000000000000.css"); p.status != 404 {
		t.Errorf("unknown asset: %d", p.status)
	}
	// The icon: hashed in the page, and at /favicon.ico for browsers
	// that ask without a page (no 404 in their logs).
	icon := regexp.MustCompile(`<link rel="icon" type="image/svg\+xml" href="(/ui/static/favicon\.[0-9a-f]{12}\.svg)">`).FindStringSubmatch(home.body)
	if icon == nil {
		t.Fatalf("no icon link in the page:\n%s", home.body)
	}
	hashed := b.get(icon[1])
	if hashed.status != 200 || hashed.header.Get("Content-Type") != "image/svg+xml" || !strings.HasPrefix(hashed.body, "<svg") {
		t.Errorf("%s: %d %q", icon[1], hashed.status, hashed.header.Get("Content-Type"))
	}
	if p := b.get("/favicon.ico"); p.status != 200 || p.header.Get("Content-Type") != "image/svg+xml" || p.body != hashed.body {
		t.Errorf("/favicon.ico: %d %q", p.status, p.header.Get("Content-Type"))
	}
}

func TestUIErrorPages(t *testing.T) {
	s := startUI(t, nil)
	b := newBrowser(t, s.URL)
	p := b.get("/ui/no/such/<page>")
	if p.status != 404 || !strings.Contains(p.body, "There is nothing here") || strings.Contains(p.body, "<page>") {
		t.Fatalf("404 page: %d\n%s", p.status, p.body)
	}
}

func TestUIAuthOff(t *testing.T) {
	s := apptest.Start(t, nil)
	b := newBrowser(t, s.URL)
	p := b.get("/")
	if p.status != 200 || strings.Contains(p.body, "/ui/login") {
		t.Fatalf("auth off: %d, log-in link shown", p.status)
	}
	if p := b.get("/ui/login"); p.status != http.StatusSeeOther {
		t.Fatalf("log-in page with auth off: %d", p.status)
	}
	// Everything visible and allowed, as on the API.
	if p := b.post("/ui/projects", url.Values{"name": {"team"}}); p.status != http.StatusSeeOther {
		t.Fatalf("create a project with auth off: %d %s", p.status, p.body)
	}
	d := registryFixture{t: t, url: s.URL}.image("team/app", "v1", "amd64", nil, nil)
	registryFixture{t: t, url: s.URL}.image("loose/app", "v1", "amd64", nil, nil) // no project record
	for path, want := range map[string]string{
		"/ui/":                      "team/app",
		"/ui/projects":              `href="/ui/projects/team"`,
		"/ui/projects/team":         "/settings",
		"/ui/repositories/team/app": `value="delete_tag"`,
		"/ui/repositories/team/app@" + d.String(): `value="delete_manifest"`,
	} {
		if p := b.get(path); p.status != 200 || !strings.Contains(p.body, want) {
			t.Errorf("%s with auth off: %d, lacks %q", path, p.status, want)
		}
	}
}

func TestUIDisabled(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.UI.Enabled = false })
	b := newBrowser(t, s.URL)
	for _, path := range []string{"/", "/ui/", "/ui/login"} {
		if p := b.get(path); p.status != 404 {
			t.Errorf("%s with ui.enabled off: %d", path, p.status)
		}
	}
}
