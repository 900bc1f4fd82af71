package proxy

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/berth-registry/berth/internal/config"
)

// TestAccessControl: with access control on, a proxied pull is authorized
// against the upstream's project, however the name arrived (project
// prefix, mirror mode, ?ns=): anonymous mirror pulls work once that
// project is public, and not before.
func TestAccessControl(t *testing.T) {
	up := startBerthUpstream(t)
	img, _ := random.Image(1024, 1)
	d := push(t, up, "library/web:1", img)
	srv := startProxy(t, []proxyUpstream{{name: "hub", up: up, namespaces: []string{"docker.io"}, mirror: true}}, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = "admin-password-1"
		c.Auth.BcryptCost = 4
	})
	paths := []string{"/v2/hub/library/web/manifests/1", "/v2/library/web/manifests/1", "/v2/library/web/manifests/1?ns=docker.io"}
	for _, p := range paths {
		if status, _, _ := get(t, srv.URL+p, "Accept", manifestAccept); status != http.StatusUnauthorized {
			t.Errorf("anonymous %s before the project exists: %d, want 401", p, status)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/projects", strings.NewReader(`{"name":"hub","public":true}`))
	req.SetBasicAuth("admin", "admin-password-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create project hub: %s", resp.Status)
	}
	for _, p := range paths {
		status, _, body := get(t, srv.URL+p, "Accept", manifestAccept)
		if status != http.StatusOK || sha256hex(body) != d {
			t.Errorf("anonymous %s from the public project: %d", p, status)
		}
	}
	// A name the upstream lacks is not found, with access control too.
	if status, _, _ := get(t, srv.URL+"/v2/library/other/manifests/1", "Accept", manifestAccept); status == http.StatusOK {
		t.Error("a name the upstream lacks was served")
	}
}

// TestMirrorTokens: a Docker daemon pulling through mirror mode with
// access control on asks the token endpoint for the name it pulls
// (repository:library/web:pull), not for the cache repository whose
// project authorizes the pull (hub/library/web). The anonymous token must
// let it pull once project hub is public, and a user's token once the user
// may pull from hub; without access to hub no token lets it.
func TestMirrorTokens(t *testing.T) {
	up := startBerthUpstream(t)
	img, _ := random.Image(1024, 1)
	d := push(t, up, "library/web:1", img)
	srv := startProxy(t, []proxyUpstream{{name: "hub", up: up, mirror: true}}, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = "admin-password-1"
		c.Auth.BcryptCost = 4
	})
	admin := func(method, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth("admin", "admin-password-1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %s, want %d", method, path, resp.Status, want)
		}
	}
	admin("POST", "/api/v1/users", `{"name":"dev","password":"dev-password-1"}`, http.StatusCreated)
	// pull fetches a token for scope as user (none: anonymous), as Docker
	// does, and pulls the manifest with it.
	pull := func(user, pass, scope string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/token?service=berth&scope="+scope, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var tok struct{ Token string }
		err = json.NewDecoder(resp.Body).Decode(&tok)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("token for %s: %s %v", scope, resp.Status, err)
		}
		status, _, body := get(t, srv.URL+"/v2/library/web/manifests/1", "Accept", manifestAccept, "Authorization", "Bearer "+tok.Token)
		if status == http.StatusOK && sha256hex(body) != d {
			t.Fatalf("pulled %s, upstream has %s", sha256hex(body), d)
		}
		return status
	}
	const scope = "repository:library/web:pull"
	if s := pull("", "", scope); s != http.StatusUnauthorized {
		t.Errorf("anonymous token before project hub exists: %d, want 401", s)
	}
	admin("POST", "/api/v1/projects", `{"name":"hub"}`, http.StatusCreated)
	if s := pull("dev", "dev-password-1", scope); s != http.StatusUnauthorized {
		t.Errorf("dev's token without access to the private hub: %d, want 401", s)
	}
	admin("PUT", "/api/v1/projects/hub/members/user/dev", `{"role":"guest"}`, http.StatusOK)
	if s := pull("dev", "dev-password-1", scope); s != http.StatusOK {
		t.Errorf("dev's token as a guest of hub: %d, want 200", s)
	}
	if s := pull("", "", scope); s != http.StatusUnauthorized {
		t.Errorf("anonymous token, hub private: %d, want 401", s)
	}
	admin("PATCH", "/api/v1/projects/hub", `{"public":true}`, http.StatusOK)
	if s := pull("", "", scope); s != http.StatusOK {
		t.Errorf("anonymous token, hub public: %d, want 200", s)
	}
	// The cache repository's own name keeps working.
	if s := pull("", "", "repository:hub/library/web:pull"); s != http.StatusOK {
		t.Errorf("anonymous token for hub/library/web: %d, want 200", s)
	}
}
