package proxy

import (
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
