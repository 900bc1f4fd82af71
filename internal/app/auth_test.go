package app_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/syncbuf"
)

const adminPassword = "admin-secret-1"

// startAuth runs Berth with builtin users and an initial admin.
func startAuth(t *testing.T, edit func(*config.Config)) *apptest.Server {
	t.Helper()
	return apptest.Start(t, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = adminPassword
		c.Auth.BcryptCost = 4 // fast tests
		if edit != nil {
			edit(c)
		}
	})
}

// cred is who a test request acts as; zero for anonymous.
type cred struct{ user, pass string }

func (c cred) basic() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.user+":"+c.pass))
}

// result is a response with its body read.
type result struct {
	status int
	header http.Header
	body   string
}

// send makes one request with an optional Authorization header.
func send(t testing.TB, method, u, authz string, body []byte, hdr map[string]string) result {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

var challengeParam = regexp.MustCompile(`(\w+)="([^"]*)"`)

// parseChallenge reads a Bearer challenge's parameters.
func parseChallenge(h string) map[string]string {
	if !strings.HasPrefix(h, "Bearer ") {
		return nil
	}
	out := map[string]string{}
	for _, m := range challengeParam.FindAllStringSubmatch(h, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// fetchToken asks the token endpoint (GET) for scopes, with c's Basic
// credentials unless c is anonymous.
func fetchToken(t testing.TB, realm, service string, c cred, scopes ...string) (string, result) {
	t.Helper()
	q := url.Values{"service": {service}}
	for _, s := range scopes {
		if s != "" {
			q.Add("scope", s)
		}
	}
	authz := ""
	if c.user != "" {
		authz = c.basic()
	}
	res := send(t, "GET", realm+"?"+q.Encode(), authz, nil, nil)
	if res.status != http.StatusOK {
		return "", res
	}
	var tr struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(res.body), &tr); err != nil || tr.Token == "" {
		t.Fatalf("token response %s: %v", res.body, err)
	}
	return tr.Token, res
}

// tokenDo makes a request as a registry client does with token auth: as
// is first, and on a Bearer challenge once more with a token for the
// challenge's scope (and extra scopes, as a mounting client asks for its
// source too).
func tokenDo(t testing.TB, c cred, method, u string, body []byte, hdr map[string]string, extra ...string) result {
	t.Helper()
	res := send(t, method, u, "", body, hdr)
	ch := parseChallenge(res.header.Get("WWW-Authenticate"))
	if res.status != http.StatusUnauthorized || ch == nil {
		return res
	}
	tok, tres := fetchToken(t, ch["realm"], ch["service"], c, append([]string{ch["scope"]}, extra...)...)
	if tok == "" {
		return tres
	}
	return send(t, method, u, "Bearer "+tok, body, hdr)
}

func TestAuthChallengeAndLogin(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}

	// Anonymous /v2/ is asked to log in, at the token endpoint of this host.
	res := send(t, "GET", s.URL+"/v2/", "", nil, nil)
	want := fmt.Sprintf(`Bearer realm="%s/token",service="berth"`, s.URL)
	if res.status != 401 || res.header.Get("WWW-Authenticate") != want || res.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("anonymous /v2/: %d %q %v", res.status, res.header.Get("WWW-Authenticate"), res.header)
	}
	if !strings.Contains(res.body, `"UNAUTHORIZED"`) {
		t.Fatalf("body %s", res.body)
	}
	// A repository route names its scope.
	res = send(t, "GET", s.URL+"/v2/team-a/app/tags/list", "", nil, nil)
	if ch := parseChallenge(res.header.Get("WWW-Authenticate")); res.status != 401 || ch["scope"] != "repository:team-a/app:pull" {
		t.Fatalf("tags: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
	res = send(t, "POST", s.URL+"/v2/team-a/app/blobs/uploads/", "", nil, nil)
	if ch := parseChallenge(res.header.Get("WWW-Authenticate")); ch["scope"] != "repository:team-a/app:pull,push" {
		t.Fatalf("upload: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}

	// Basic on /v2/ directly.
	if res := send(t, "GET", s.URL+"/v2/", admin.basic(), nil, nil); res.status != 200 {
		t.Fatalf("basic admin: %d %s", res.status, res.body)
	}
	if res := send(t, "GET", s.URL+"/v2/", cred{"admin", "wrong-password"}.basic(), nil, nil); res.status != 401 {
		t.Fatalf("wrong password: %d", res.status)
	}
	// Token: GET with Basic, then the token on /v2/.
	tok, _ := fetchToken(t, s.URL+"/token", "berth", admin)
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok, nil, nil); res.status != 200 {
		t.Fatalf("bearer: %d %s", res.status, res.body)
	}
	if _, res := fetchToken(t, s.URL+"/token", "berth", cred{"admin", "nope-nope"}); res.status != 401 || !strings.Contains(res.body, "UNAUTHORIZED") {
		t.Fatalf("token with a wrong password: %d %s", res.status, res.body)
	}
	if _, res := fetchToken(t, s.URL+"/token", "other", admin); res.status != 400 {
		t.Fatalf("token for another service: %d %s", res.status, res.body)
	}
	// A garbage bearer token is an invalid_token challenge.
	res = send(t, "GET", s.URL+"/v2/", "Bearer abc.def.ghi", nil, nil)
	if ch := parseChallenge(res.header.Get("WWW-Authenticate")); res.status != 401 || ch["error"] != "invalid_token" {
		t.Fatalf("garbage token: %d %q", res.status, res.header.Get("WWW-Authenticate"))
	}
}

func TestAuthTokenGrants(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team-a"}`, 201)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/team-a/members/user/dev", `{"role":"developer"}`, 200)
	dev := cred{"dev", "dev-password"}

	// GET: the token's access claim lists exactly what dev may do.
	tok, _ := fetchToken(t, s.URL+"/token", "berth", dev, "repository:team-a/app:pull,push,delete", "repository:team-b/x:pull", "registry:catalog:*")
	claims := jwtClaims(t, tok)
	want := `[{"actions":["pull","push"],"name":"team-a/app","type":"repository"},{"actions":["*"],"name":"catalog","type":"registry"}]`
	if got, _ := json.Marshal(claims["access"]); string(got) != want {
		t.Fatalf("access = %s\nwant %s", got, want)
	}
	if claims["sub"] != "dev" || claims["aud"] == nil || claims["iss"] != "berth" {
		t.Fatalf("claims %v", claims)
	}

	// POST password grant with a refresh token, then the refresh grant.
	form := url.Values{"grant_type": {"password"}, "username": {"dev"}, "password": {"dev-password"},
		"service": {"berth"}, "scope": {"repository:team-a/app:pull"}, "client_id": {"test"}, "access_type": {"offline"}}
	res := send(t, "POST", s.URL+"/token", "", []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	var tr struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.Unmarshal([]byte(res.body), &tr); res.status != 200 || err != nil || tr.RefreshToken == "" ||
		tr.Scope != "repository:team-a/app:pull" || tr.ExpiresIn != 300 {
		t.Fatalf("password grant: %d %s", res.status, res.body)
	}
	// A refresh token is not an access token.
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tr.RefreshToken, nil, nil); res.status != 401 {
		t.Fatalf("refresh token used as access token: %d", res.status)
	}
	refresh := func() result {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}, "service": {"berth"},
			"scope": {"repository:team-a/app:push"}, "client_id": {"test"}}
		return send(t, "POST", s.URL+"/token", "", []byte(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	}
	if res := refresh(); res.status != 200 || !strings.Contains(res.body, `"scope":"repository:team-a/app:push"`) {
		t.Fatalf("refresh grant: %d %s", res.status, res.body)
	}
	// A password change ends the refresh token.
	api(t, s.URL, admin, "PATCH", "/api/v1/users/dev", `{"password":"new-dev-password"}`, 200)
	if res := refresh(); res.status != 401 {
		t.Fatalf("refresh after a password change: %d %s", res.status, res.body)
	}
	// Unknown grant.
	res = send(t, "POST", s.URL+"/token", "", []byte("grant_type=magic"), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if res.status != 400 {
		t.Fatalf("unknown grant: %d", res.status)
	}
}

// jwtClaims decodes a JWT's claims without verifying it.
func jwtClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// api makes a management API call with Basic credentials and checks the status.
func api(t testing.TB, base string, c cred, method, path, body string, want int) string {
	t.Helper()
	authz := ""
	if c.user != "" {
		authz = c.basic()
	}
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	res := send(t, method, base+path, authz, b, map[string]string{"Content-Type": "application/json"})
	if res.status != want {
		t.Fatalf("%s %s as %q: %d %s, want %d", method, path, c.user, res.status, res.body, want)
	}
	return res.body
}

// The access log names the user, and nothing secret is logged: not the
// password, the Basic header, the token or a robot secret.
func TestAuthAccessLogUserNoSecrets(t *testing.T) {
	cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Auth.Mode, cfg.Auth.Admin.Password, cfg.Auth.BcryptCost = "builtin", adminPassword, 4
	logs := &syncbuf.Buffer{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()
	admin := cred{"admin", adminPassword}
	api(t, srv.URL, admin, "POST", "/api/v1/projects", `{"name":"team-a"}`, 201)
	body := api(t, srv.URL, admin, "POST", "/api/v1/projects/team-a/robots", `{"name":"ci","actions":["pull"]}`, 201)
	var robot struct{ Name, Secret string }
	json.Unmarshal([]byte(body), &robot)
	tok, _ := fetchToken(t, srv.URL+"/token", "berth", admin)
	send(t, "GET", srv.URL+"/v2/", "Bearer "+tok, nil, nil)
	send(t, "GET", srv.URL+"/v2/", cred{robot.Name, robot.Secret}.basic(), nil, nil)
	send(t, "GET", srv.URL+"/v2/", cred{"admin", "wrong-password"}.basic(), nil, nil)
	out := logs.String()
	for _, secret := range []string{adminPassword, "wrong-password", admin.basic()[6:], tok, robot.Secret} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains a secret %.12q...", secret)
		}
	}
	if !strings.Contains(out, `"route":"base","repo":"","user":"admin","status":200`) ||
		!strings.Contains(out, `"user":"robot$team-a+ci","status":200`) {
		t.Errorf("access log lacks the user:\n%s", out)
	}
}

func TestAuthBlobUpload(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	blob := []byte("a layer")
	d := digest.FromBytes(blob)
	res := tokenDo(t, admin, "POST", s.URL+"/v2/team-a/app/blobs/uploads/?digest="+d.String(), blob, nil)
	if res.status != 201 {
		t.Fatalf("push as admin through token auth: %d %s", res.status, res.body)
	}
	// The push created project team-a with admin as its admin.
	body := api(t, s.URL, admin, "GET", "/api/v1/projects/team-a/members", "", 200)
	if !strings.Contains(body, `"name":"admin","role":"admin"`) {
		t.Fatalf("members %s", body)
	}
}

// The JWK Set names the key that signs tokens, and rotation adds one.
func TestAuthJWKSAndRotation(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	kids := func() []string {
		res := send(t, "GET", s.URL+"/.well-known/jwks.json", "", nil, nil)
		var set struct {
			Keys []struct{ Kid, Kty, Crv string }
		}
		if err := json.Unmarshal([]byte(res.body), &set); res.status != 200 || err != nil {
			t.Fatalf("jwks: %d %s", res.status, res.body)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		return out
	}
	tok, _ := fetchToken(t, s.URL+"/token", "berth", admin)
	header := func(tok string) map[string]any {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		var h map[string]any
		json.Unmarshal(b, &h)
		return h
	}
	if k := kids(); len(k) != 1 || header(tok)["kid"] != k[0] || header(tok)["alg"] != "ES256" {
		t.Fatalf("kids %v, token header %v", k, header(tok))
	}
	api(t, s.URL, admin, "POST", "/api/v1/auth/keys/rotate", "", 200)
	if k := kids(); len(k) != 2 {
		t.Fatalf("after rotation: %v", k)
	}
	// The old token still works; new ones use the new key.
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok, nil, nil); res.status != 200 {
		t.Fatalf("old token after rotation: %d", res.status)
	}
	tok2, _ := fetchToken(t, s.URL+"/token", "berth", admin)
	if header(tok2)["kid"] != kids()[0] {
		t.Fatalf("new token signed by %v", header(tok2)["kid"])
	}
	// Only administrators rotate.
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, cred{"dev", "dev-password"}, "POST", "/api/v1/auth/keys/rotate", "", 403)
	api(t, s.URL, cred{}, "POST", "/api/v1/auth/keys/rotate", "", 401)
}

func TestAuthProjectCreationTokensRobots(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	dev := cred{"dev", "dev-password"}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	blob := []byte("some layer")
	push := func(c cred, repo string) int {
		return send(t, "POST", s.URL+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(blob).String(), c.basic(), blob, nil).status
	}

	// Only administrators create projects, by default.
	if got := push(dev, "newproj/app"); got != 403 {
		t.Fatalf("dev pushing to a new project: %d", got)
	}
	api(t, s.URL, dev, "POST", "/api/v1/projects", `{"name":"mine"}`, 403)
	api(t, s.URL, dev, "PATCH", "/api/v1/settings", `{"project_creation":"users"}`, 403)
	api(t, s.URL, admin, "PATCH", "/api/v1/settings", `{"project_creation":"users"}`, 200)
	// Now pushing to a new name creates the project with the pusher as admin.
	if got := push(dev, "newproj/app"); got != 201 {
		t.Fatalf("dev pushing to a new project with project_creation=users: %d", got)
	}
	if body := api(t, s.URL, dev, "GET", "/api/v1/projects/newproj/members", "", 200); !strings.Contains(body, `"name":"dev","role":"admin"`) {
		t.Fatalf("members of newproj: %s", body)
	}
	api(t, s.URL, dev, "POST", "/api/v1/projects", `{"name":"mine","public":true}`, 201)
	api(t, s.URL, dev, "POST", "/api/v1/projects", `{"name":"mine"}`, 409)
	api(t, s.URL, dev, "POST", "/api/v1/projects", `{"name":"Bad/Name"}`, 400)
	// A project with repositories cannot be deleted.
	api(t, s.URL, dev, "DELETE", "/api/v1/projects/newproj", "", 409)
	api(t, s.URL, dev, "DELETE", "/api/v1/projects/mine", "", 204)

	// A personal access token stands in for the password, until revoked.
	var tok struct{ ID, Token string }
	json.Unmarshal([]byte(api(t, s.URL, dev, "POST", "/api/v1/me/tokens", `{"name":"laptop","expires_in":"1h"}`, 201)), &tok)
	if !strings.HasPrefix(tok.Token, "bpat_") {
		t.Fatalf("token %q", tok.Token)
	}
	pat := cred{"dev", tok.Token}
	if got := push(pat, "newproj/app"); got != 201 {
		t.Fatalf("push with an access token: %d", got)
	}
	if body := api(t, s.URL, dev, "GET", "/api/v1/me/tokens", "", 200); strings.Contains(body, tok.Token) || !strings.Contains(body, `"name":"laptop"`) {
		t.Fatalf("token list shows the secret or lacks the token: %s", body)
	}
	api(t, s.URL, dev, "DELETE", "/api/v1/me/tokens/"+tok.ID, "", 204)
	if got := push(pat, "newproj/app"); got != 401 {
		t.Fatalf("push with a revoked access token: %d", got)
	}

	// A system robot that may pull everywhere, and nothing else.
	var robot struct{ Name, Secret string }
	json.Unmarshal([]byte(api(t, s.URL, admin, "POST", "/api/v1/robots",
		`{"name":"mirror","permissions":[{"project":"*","actions":["pull"]}]}`, 201)), &robot)
	rb := cred{robot.Name, robot.Secret}
	if robot.Name != "robot$mirror" {
		t.Fatalf("robot name %q", robot.Name)
	}
	if res := send(t, "GET", s.URL+"/v2/newproj/app/blobs/"+digest.FromBytes(blob).String(), rb.basic(), nil, nil); res.status != 200 {
		t.Fatalf("system robot pull: %d", res.status)
	}
	if got := push(rb, "newproj/app"); got != 403 {
		t.Fatalf("system robot push: %d", got)
	}
	api(t, s.URL, rb, "GET", "/api/v1/users", "", 403)
	api(t, s.URL, admin, "DELETE", "/api/v1/robots/mirror", "", 204)
	if got := push(rb, "newproj/app"); got != 401 {
		t.Fatalf("deleted robot: %d", got)
	}
	// The last administrator stays.
	api(t, s.URL, admin, "PATCH", "/api/v1/users/admin", `{"admin":false}`, 400)
	api(t, s.URL, admin, "DELETE", "/api/v1/users/admin", "", 400)
}

// The audit log names the authenticated user of each event, and a token
// login; a denied push is recorded as a failure.
func TestAuthAuditUser(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	blob := []byte("audited layer")
	d := digest.FromBytes(blob).String()
	if res := send(t, "POST", s.URL+"/v2/team/app/blobs/uploads/?digest="+d, cred{"dev", "dev-password"}.basic(), blob, nil); res.status != 403 {
		t.Fatalf("dev push: %d", res.status)
	}
	fetchToken(t, s.URL+"/token", "berth", admin, "repository:team/app:pull")
	var events []auditLine
	deadline := time.Now().Add(5 * time.Second)
	for {
		body := api(t, s.URL, admin, "GET", "/api/v1/audit", "", 200)
		var b struct{ Events []auditLine }
		json.Unmarshal([]byte(body), &b)
		events = b.Events
		if len(events) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	found := map[string]bool{}
	for _, e := range events {
		found[e.Action+"/"+e.User+"/"+e.Status] = true
	}
	for _, want := range []string{"push/dev/failure", "login/admin/success", "user_create/admin/success"} {
		if !found[want] {
			t.Errorf("no audit event %s in %+v", want, events)
		}
	}
}
