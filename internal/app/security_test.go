package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 13, finding 3: the token of a deleted or demoted administrator
// stops working on the management API at once (on this instance).
func TestAuthAdminTokenAfterDeleteOrDemote(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	for _, u := range []string{"boss", "chief"} {
		api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"`+u+`","password":"`+u+`-password","admin":true}`, 201)
	}
	boss, _ := fetchToken(t, s.URL+"/token", "berth", cred{"boss", "boss-password"})
	chief, _ := fetchToken(t, s.URL+"/token", "berth", cred{"chief", "chief-password"})
	for _, tok := range []string{boss, chief} {
		if res := send(t, "GET", s.URL+"/api/v1/users", "Bearer "+tok, nil, nil); res.status != http.StatusOK {
			t.Fatalf("admin token: %d %s", res.status, res.body)
		}
	}
	api(t, s.URL, admin, "DELETE", "/api/v1/users/boss", "", 204)
	res := send(t, "POST", s.URL+"/api/v1/users", "Bearer "+boss, []byte(`{"name":"backdoor","password":"backdoor-password","admin":true}`),
		map[string]string{"Content-Type": "application/json"})
	if res.status != http.StatusUnauthorized {
		t.Fatalf("deleted admin's token created a user: %d %s", res.status, res.body)
	}
	api(t, s.URL, admin, "PATCH", "/api/v1/users/chief", `{"admin":false}`, 200)
	if res := send(t, "GET", s.URL+"/api/v1/users", "Bearer "+chief, nil, nil); res.status != http.StatusForbidden {
		t.Fatalf("demoted admin's token: %d %s", res.status, res.body)
	}
}

// Issue 13, finding 4: a rotation with revoke ends the old keys' tokens at
// once, refresh tokens included.
func TestAuthRotateRevoke(t *testing.T) {
	s := startAuth(t, nil)
	admin := cred{"admin", adminPassword}
	tok, _ := fetchToken(t, s.URL+"/token", "berth", admin)
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok, nil, nil); res.status != http.StatusOK {
		t.Fatalf("token: %d", res.status)
	}
	body := api(t, s.URL, admin, "POST", "/api/v1/auth/keys/rotate", `{"revoke":true}`, 200)
	if !strings.Contains(body, `"revoked":true`) {
		t.Errorf("rotate answer %s", body)
	}
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok, nil, nil); res.status != http.StatusUnauthorized {
		t.Fatalf("token of a revoked key: %d", res.status)
	}
	tok2, _ := fetchToken(t, s.URL+"/token", "berth", admin)
	if res := send(t, "GET", s.URL+"/v2/", "Bearer "+tok2, nil, nil); res.status != http.StatusOK {
		t.Fatalf("token of the new key: %d", res.status)
	}
	api(t, s.URL, admin, "POST", "/api/v1/auth/keys/rotate", `{"revoke":"yes"}`, 400)
}
