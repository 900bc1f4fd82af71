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
	body := api(t, s.URL, admin, "GET", "/api/v1/system", "", 200)
	for _, want := range []string{`"storage_driver":"filesystem"`, `"database_driver":"sqlite"`, `"auth_modes":["builtin"]`, `"version":"`, `"uptime_seconds":`, `"projects":1`, `"users":1`} {
		if !strings.Contains(body, want) {
			t.Errorf("system info lacks %s: %s", want, body)
		}
	}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	api(t, s.URL, cred{"dev", "dev-password"}, "GET", "/api/v1/system", "", 403)
}
