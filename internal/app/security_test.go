package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
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

// Issue 13, finding 6: failures refuse the (user, address) pair, never
// the initial administrator from loopback.
func TestAuthFailedLoginsRateLimited(t *testing.T) {
	s := startAuth(t, func(c *config.Config) { c.Auth.FailedLogins.PerUser = 3 })
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"dev","password":"dev-password"}`, 201)
	for _, c := range []cred{{"dev", "wrong-password"}, {"admin", "wrong-password"}} {
		for i := range 3 {
			if res := send(t, "GET", s.URL+"/v2/", c.basic(), nil, nil); res.status != 401 {
				t.Fatalf("%s attempt %d: %d", c.user, i, res.status)
			}
		}
	}
	// From this address, dev is refused even with the right password.
	res := send(t, "GET", s.URL+"/v2/", cred{"dev", "dev-password"}.basic(), nil, nil)
	if res.status != 429 || !strings.Contains(res.body, "TOOMANYREQUESTS") {
		t.Fatalf("after 3 failures: %d %s", res.status, res.body)
	}
	if _, res := fetchToken(t, s.URL+"/token", "berth", cred{"dev", "dev-password"}); res.status != 429 {
		t.Fatalf("token endpoint after 3 failures: %d", res.status)
	}
	// The initial administrator is never locked out from loopback.
	if _, res := fetchToken(t, s.URL+"/token", "berth", admin); res.status != 200 {
		t.Fatalf("initial admin from loopback after 3 failures: %d", res.status)
	}
}
