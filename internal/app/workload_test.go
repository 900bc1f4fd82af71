package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth/oidc/oidctest"
	"github.com/berth-registry/berth/internal/config"
)

// A CI job pushes as a robot with its CI system's OIDC token (GitHub
// Actions style claims, from a test issuer), with no stored secret.
func TestWorkloadIdentity(t *testing.T) {
	is := oidctest.Start(t)
	s := startAuth(t, func(c *config.Config) {
		c.Auth.WorkloadIdentity = []config.WorkloadIdentity{{Robot: "robot$team+ci", Issuer: is.URL, Audience: "https://registry.example.com",
			Claims: map[string]string{"repository": "org/app", "ref": "refs/heads/*"}}}
	})
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"other"}`, 201)
	var robot struct{ Name, Secret string }
	json.Unmarshal([]byte(api(t, s.URL, admin, "POST", "/api/v1/projects/team/robots", `{"name":"ci","actions":["pull","push"]}`, 201)), &robot)
	api(t, s.URL, admin, "POST", "/api/v1/projects/team/robots", `{"name":"nightly","actions":["pull","push"]}`, 201)

	good := func() jwt.MapClaims {
		c := is.DefaultClaims("repo:org/app:ref:refs/heads/main", "")
		c["aud"], c["repository"], c["ref"] = "https://registry.example.com", "org/app", "refs/heads/main"
		return c
	}
	with := func(edit func(jwt.MapClaims)) jwt.MapClaims { c := good(); edit(c); return c }
	blob := []byte("built by CI")
	d := digest.FromBytes(blob).String()
	tests := []struct {
		name   string
		robot  string
		token  func() string
		repo   string
		wantOK bool
	}{
		{"matching claims", "robot$team+ci", func() string { return is.Sign(t, good(), false) }, "team/app", true},
		{"another branch", "robot$team+ci", func() string {
			return is.Sign(t, with(func(c jwt.MapClaims) { c["ref"] = "refs/heads/feature/x" }), false)
		}, "team/app", false}, // path.Match: * stops at /
		{"a tag", "robot$team+ci", func() string { return is.Sign(t, with(func(c jwt.MapClaims) { c["ref"] = "refs/tags/v1" }), false) }, "team/app", false},
		{"another repository", "robot$team+ci", func() string {
			return is.Sign(t, with(func(c jwt.MapClaims) { c["repository"] = "evil/app" }), false)
		}, "team/app", false},
		{"claim missing", "robot$team+ci", func() string { return is.Sign(t, with(func(c jwt.MapClaims) { delete(c, "ref") }), false) }, "team/app", false},
		{"wrong audience", "robot$team+ci", func() string {
			return is.Sign(t, with(func(c jwt.MapClaims) { c["aud"] = "sts.amazonaws.com" }), false)
		}, "team/app", false},
		{"expired", "robot$team+ci", func() string {
			return is.Sign(t, with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() }), false)
		}, "team/app", false},
		{"unknown key", "robot$team+ci", func() string { return is.Sign(t, good(), true) }, "team/app", false},
		{"another robot", "robot$team+nightly", func() string { return is.Sign(t, good(), false) }, "team/app", false},
		{"outside the robot's project", "robot$team+ci", func() string { return is.Sign(t, good(), false) }, "other/app", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := tokenDo(t, cred{tc.robot, tc.token()}, "POST", s.URL+"/v2/"+tc.repo+"/blobs/uploads/?digest="+d, blob, nil)
			if got := res.status == http.StatusCreated; got != tc.wantOK {
				t.Fatalf("push: %d %s", res.status, res.body)
			}
		})
	}
	// The robot's secret still works.
	if res := tokenDo(t, cred{robot.Name, robot.Secret}, "GET", s.URL+"/v2/team/app/blobs/"+d, nil, nil); res.status != 200 {
		t.Fatalf("pull with the secret: %d", res.status)
	}
	// A robot without workload identity does not log in with a token.
	tok := is.Sign(t, good(), false)
	if res := send(t, "GET", s.URL+"/v2/", cred{"robot$team+nightly", tok}.basic(), nil, nil); res.status == 200 {
		t.Fatal("a robot without workload identity logged in with a token")
	}
}

// The CI system's issuer down: the login fails with 503, not as a wrong
// password, and robot secrets keep working.
func TestWorkloadIdentityIssuerDown(t *testing.T) {
	is := oidctest.Start(t)
	s := startAuth(t, func(c *config.Config) {
		c.Auth.WorkloadIdentity = []config.WorkloadIdentity{{Robot: "robot$team+ci", Issuer: is.URL, Audience: "berth",
			Claims: map[string]string{"repository": "org/app"}}}
	})
	admin := cred{"admin", adminPassword}
	api(t, s.URL, admin, "POST", "/api/v1/projects", `{"name":"team"}`, 201)
	var robot struct{ Name, Secret string }
	json.Unmarshal([]byte(api(t, s.URL, admin, "POST", "/api/v1/projects/team/robots", `{"name":"ci","actions":["pull"]}`, 201)), &robot)
	c := is.DefaultClaims("x", "")
	c["aud"], c["repository"] = "berth", "org/app"
	tok := is.Sign(t, c, false)
	is.Close()
	if res := send(t, "GET", s.URL+"/v2/", cred{robot.Name, tok}.basic(), nil, nil); res.status != http.StatusServiceUnavailable {
		t.Fatalf("issuer down: %d %s", res.status, res.body)
	}
	if res := send(t, "GET", s.URL+"/v2/", cred{robot.Name, robot.Secret}.basic(), nil, nil); res.status != 200 {
		t.Fatalf("secret: %d", res.status)
	}
}
