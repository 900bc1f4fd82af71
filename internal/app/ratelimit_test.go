package app_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

// Rate limits count per user (Basic or token), with 429 and Retry-After.
func TestRateLimitPerUser(t *testing.T) {
	s := startAuth(t, func(c *config.Config) {
		c.RateLimit.User = config.Limit{RequestsPerSecond: 0.01, Burst: 2}
	})
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/users", `{"name":"alice","password":"alice-password"}`, 201)
	alice := cred{"alice", "alice-password"}
	for i := range 2 {
		if res := send(t, "GET", s.URL+"/v2/", alice.basic(), nil, nil); res.status != 200 {
			t.Fatalf("request %d: %d %s", i+1, res.status, res.body)
		}
	}
	res := send(t, "GET", s.URL+"/v2/", alice.basic(), nil, nil)
	if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "TOOMANYREQUESTS") || !strings.Contains(res.body, "user alice") ||
		res.header.Get("Retry-After") == "" || res.header.Get("RateLimit-Limit") == "" {
		t.Fatalf("third request: %d %v %s", res.status, res.header, res.body)
	}
	// The admin has a bucket of their own; the management API is not limited.
	if res := send(t, "GET", s.URL+"/v2/", admin.basic(), nil, nil); res.status != 200 {
		t.Fatalf("admin: %d", res.status)
	}
	api(t, s.URL, alice, "GET", "/api/v1/me", "", 200)
}
