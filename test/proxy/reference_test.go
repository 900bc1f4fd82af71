package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/berth-registry/berth/internal/config"
)

// TestInvalidReference: a manifest reference that is neither a tag nor a
// digest is 404 MANIFEST_UNKNOWN through the pull-through cache too, by
// project prefix, mirror mode and ?ns=, with access control off and on,
// and the upstream is never asked for it. With access control on, the
// access check still comes first (401 for an anonymous caller).
func TestInvalidReference(t *testing.T) {
	up := startBerthUpstream(t)
	img, _ := random.Image(1024, 1)
	push(t, up, "library/web:1", img)
	refs := []string{".INVALID_MANIFEST_NAME", "-dash", "sha256:xyz", strings.Repeat("t", 129)}
	routes := []string{"/v2/hub/library/web/manifests/%s", "/v2/library/web/manifests/%s", "/v2/library/web/manifests/%s?ns=docker.io"}
	for _, mode := range []string{"none", "builtin"} {
		t.Run("auth-"+mode, func(t *testing.T) {
			srv := startProxy(t, []proxyUpstream{{name: "hub", up: up, namespaces: []string{"docker.io"}, mirror: true}}, func(c *config.Config) {
				if mode == "builtin" {
					c.Auth.Mode = "builtin"
					c.Auth.Admin.Password = "admin-password-1"
					c.Auth.BcryptCost = 4
				}
			})
			do := func(method, path, user string) (int, []byte) {
				t.Helper()
				req, err := http.NewRequest(method, srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Accept", manifestAccept)
				if user != "" {
					req.SetBasicAuth(user, "admin-password-1")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				return resp.StatusCode, body
			}
			user := ""
			if mode == "builtin" {
				user = "admin"
			}
			up.resetCounts()
			for _, route := range routes {
				for _, ref := range refs {
					path := strings.Replace(route, "%s", ref, 1)
					if mode == "builtin" {
						if status, _ := do(http.MethodGet, path, ""); status != http.StatusUnauthorized {
							t.Errorf("anonymous GET %s: %d, want 401", path, status)
						}
					}
					status, body := do(http.MethodGet, path, user)
					if status != http.StatusNotFound {
						t.Errorf("GET %s: %d %s, want 404", path, status, body)
						continue
					}
					if code, _ := decodeError(t, body); code != "MANIFEST_UNKNOWN" {
						t.Errorf("GET %s: %s, want MANIFEST_UNKNOWN", path, code)
					}
					if status, _ := do(http.MethodHead, path, user); status != http.StatusNotFound {
						t.Errorf("HEAD %s: %d, want 404", path, status)
					}
				}
			}
			if n := up.count("GET", "") + up.count("HEAD", ""); n != 0 {
				t.Errorf("the upstream was asked %d times for invalid references", n)
			}
		})
	}
}
