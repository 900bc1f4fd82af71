package app_test

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestAuthMeProjects(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	for _, p := range []string{"a", "b", "c"} {
		api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"`+p+`"}`, 201)
	}
	api(t, s.URL, admin, "PUT", "/api/v1/projects/a/members/user/dev", `{"role":"developer"}`, 200)
	api(t, s.URL, admin, "PUT", "/api/v1/projects/c/members/user/dev", `{"role":"guest"}`, 200)
	var me struct {
		Name     string
		Projects []struct{ Project, Role, Kind, Name string }
	}
	json.Unmarshal([]byte(api(t, s.URL, cred{"dev", "dev-password"}, "GET", "/api/v1/me", "", 200)), &me)
	if me.Name != "dev" || len(me.Projects) != 2 || me.Projects[0].Project != "a" || me.Projects[0].Role != "developer" ||
		me.Projects[1].Project != "c" || me.Projects[1].Role != "guest" || me.Projects[1].Kind != "user" {
		t.Fatalf("me: %+v", me)
	}
}

func TestAuthSigningKeysList(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	list := func() []map[string]string {
		var k struct{ Keys []map[string]string }
		json.Unmarshal([]byte(api(t, s.URL, admin, "GET", "/api/v1/auth/keys", "", 200)), &k)
		return k.Keys
	}
	if k := list(); len(k) != 1 || k[0]["alg"] != "ES256" || k[0]["kid"] == "" || k[0]["created_at"] == "" || k[0]["retired_at"] != "" {
		t.Fatalf("keys: %v", k)
	}
	var rot struct{ Kid string }
	json.Unmarshal([]byte(api(t, s.URL, admin, "POST", "/api/v1/auth/keys/rotate", "", 200)), &rot)
	if k := list(); len(k) != 2 || k[0]["kid"] != rot.Kid || k[0]["retired_at"] != "" || k[1]["retired_at"] == "" {
		t.Fatalf("keys after rotation to %s: %v", rot.Kid, k)
	}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, cred{"dev", "dev-password"}, "GET", "/api/v1/auth/keys", "", 403)
}

func TestSystemInfo(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	m := &matrix{url: s.URL, admin: admin}
	m.config = m.pushBlob(t, "team/app", []byte(`{"architecture":"amd64","os":"linux"}`))
	m.layer = m.pushBlob(t, "team/app", []byte("layer"))
	m.pushManifest(t, "team/app", "v1")
	body := api(t, s.URL, admin, "GET", "/api/v1/system", "", 200)
	for _, want := range []string{`"storage_driver":"filesystem"`, `"database_driver":"sqlite"`, `"auth_modes":["builtin"]`, `"version":"`, `"uptime_seconds":`, `"projects":1`, `"repositories":1`, `"users":1`, `"blobs":2`} {
		if !strings.Contains(body, want) {
			t.Errorf("system info lacks %s: %s", want, body)
		}
	}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, cred{"dev", "dev-password"}, "GET", "/api/v1/system", "", 403)
}

func TestAuthUserDisabled(t *testing.T) {
	s := startAuth(t, nil)
	admin, dev := cred{"admin", adminPassword}, cred{"dev", "dev-password"}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	var tok struct{ Token string }
	json.Unmarshal([]byte(api(t, s.URL, dev, "POST", "/api/v1/me/tokens", `{"name":"ci"}`, 201)), &tok)
	pat := cred{"dev", tok.Token}
	api(t, s.URL, pat, "GET", "/api/v1/me", "", 200)

	if body := api(t, s.URL, admin, "PATCH", "/api/v1/users/dev", `{"disabled":true}`, 200); !strings.Contains(body, `"disabled":true`) {
		t.Fatalf("disable: %s", body)
	}
	for name, c := range map[string]cred{"password": dev, "access token": pat} {
		if res := send(t, "GET", s.URL+"/v2/", c.basic(), nil, nil); res.status != 401 {
			t.Errorf("disabled user's %s: %d", name, res.status)
		}
	}
	if tok, _ := fetchToken(t, s.URL+"/token", "berth", dev); tok != "" {
		t.Error("a disabled user got a token")
	}
	api(t, s.URL, admin, "PATCH", "/api/v1/users/dev", `{"disabled":false}`, 200)
	api(t, s.URL, pat, "GET", "/api/v1/me", "", 200) // the token stayed
	api(t, s.URL, dev, "GET", "/api/v1/me", "", 200)

	body := api(t, s.URL, admin, "PATCH", "/api/v1/users/admin", `{"disabled":true}`, 400)
	if !strings.Contains(body, "last administrator") {
		t.Fatalf("disabling the last admin: %s", body)
	}
	// With a second administrator the first may be disabled, and the
	// disabled one is not counted: the other is now the last.
	api(t, s.URL, admin, "PATCH", "/api/v1/users/dev", `{"admin":true}`, 200)
	api(t, s.URL, dev, "PATCH", "/api/v1/users/admin", `{"disabled":true}`, 200)
	api(t, s.URL, dev, "PATCH", "/api/v1/users/dev", `{"disabled":true}`, 400)
	api(t, s.URL, dev, "PATCH", "/api/v1/users/dev", `{"admin":false}`, 400)
}
