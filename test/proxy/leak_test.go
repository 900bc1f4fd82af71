package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

// liar is an upstream that claims every blob: 200 to every HEAD, and for
// a GET as many bytes as it claimed, none of them right.
func liar(t *testing.T, size int) *upstream {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case strings.Contains(r.URL.Path, "/blobs/"):
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Header().Set("Docker-Content-Digest", r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			w.WriteHeader(http.StatusOK)
			if r.Method == http.MethodGet {
				w.Write(bytes.Repeat([]byte{'x'}, size))
			}
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return &upstream{front: &front{srv: srv}}
}

// TestLyingUpstreamCannotLeakPrivateBlobs (issue #13, finding 2): a blob
// pushed to a private project is never served through a public proxy
// project, whatever the upstream claims: by project prefix, ?ns= or
// mirror mode, an anonymous client gets the upstream's (failing) bytes,
// never the private ones.
func TestLyingUpstreamCannotLeakPrivateBlobs(t *testing.T) {
	secret := []byte("the private layer of team secret, 0123456789abcdef")
	d := sha256hex(secret)
	up := liar(t, len(secret))
	srv := startProxy(t, []proxyUpstream{{name: "hub", up: up, namespaces: []string{"docker.io"}, mirror: true}}, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = "admin-password-1"
		c.Auth.BcryptCost = 4
	})
	do := func(method, path string, body io.Reader, admin bool) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if admin {
			req.SetBasicAuth("admin", "admin-password-1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, nil // a cut transfer is a refusal too
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	// The admin pushes the layer to private project "secret" and makes
	// the proxy project public.
	if resp, _ := do(http.MethodPost, "/v2/secret/app/blobs/uploads/?digest="+d, bytes.NewReader(secret), true); resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("push to the private project: %v", resp)
	}
	if resp, _ := do(http.MethodPost, "/api/v1/projects", strings.NewReader(`{"name":"hub","public":true}`), true); resp == nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create public project hub: %v", resp)
	}
	if resp, _ := do(http.MethodGet, "/v2/secret/app/blobs/"+d, nil, false); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous read of the private project: %v", resp)
	}
	for _, p := range []string{
		"/v2/hub/library/x/blobs/" + d,
		"/v2/library/x/blobs/" + d + "?ns=docker.io",
		"/v2/library/x/blobs/" + d, // mirror mode
		"/v2/hub/secret/app/blobs/" + d,
	} {
		for range 2 { // the second time from the cache, if anything was cached
			resp, body := do(http.MethodGet, p, nil, false)
			if bytes.Contains(body, secret[:8]) || (resp != nil && resp.StatusCode == http.StatusOK && len(body) == len(secret) && bytes.Equal(body, secret)) {
				t.Fatalf("anonymous GET %s served the private blob (status %v)", p, resp.Status)
			}
			if resp != nil && resp.StatusCode == http.StatusOK && len(body) == len(secret) {
				t.Fatalf("anonymous GET %s: a whole blob with the wrong digest was served: %q", p, body)
			}
		}
	}
}
