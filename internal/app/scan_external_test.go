package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/scan/harbor"
	"github.com/berth-registry/berth/internal/scan/scantest"
)

// A project whose policy names an external scanner is scanned through
// Harbor's pluggable scanner API: the adapter (served by the test) gets
// the registry URL and the artifact, pulls the manifest from Berth, is
// polled through a 302 with Refresh-After, and its findings are stored
// and gate pulls like the built-in scanner's.
func TestExternalScanner(t *testing.T) {
	var registry string // the test server's URL, known after start
	var polls atomic.Int32
	var pulled atomic.Bool
	adapter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer adapter-key" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/api/v1/metadata":
			w.Write([]byte(`{"scanner":{"name":"Fake","vendor":"Test","version":"1.0"},"capabilities":[{"consumes_mime_types":["application/vnd.oci.image.manifest.v1+json"],"produces_mime_types":["` + harbor.MediaTypeReport + `"]}]}`))
		case "/api/v1/scan":
			var req harbor.ScanRequest
			json.NewDecoder(r.Body).Decode(&req)
			if req.Registry.URL != "http://registry.test" || req.Artifact.Repository != "ext/app" || !strings.HasPrefix(req.Artifact.Digest, "sha256:") {
				http.Error(w, "bad request", http.StatusUnprocessableEntity)
				return
			}
			resp, err := http.Get(registry + "/v2/" + req.Artifact.Repository + "/manifests/" + req.Artifact.Digest)
			if err == nil && resp.StatusCode == http.StatusOK {
				pulled.Store(true)
			}
			if resp != nil {
				resp.Body.Close()
			}
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"id":"s1"}`))
		case "/api/v1/scan/s1/report":
			if polls.Add(1) == 1 {
				w.Header().Set("Refresh-After", "0")
				w.WriteHeader(http.StatusFound)
				return
			}
			w.Write([]byte(`{"scanner":{"name":"Fake","vendor":"Test","version":"1.0"},"severity":"Critical",
			 "vulnerabilities":[{"id":"CVE-2099-9","package":"openssl","version":"3.0.1","fix_version":"3.0.2","severity":"Critical","cvss3_vector":"CVSS:3.1/AV:N","cve3_score":"9.1"}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer adapter.Close()
	srv := apptest.Start(t, func(c *config.Config) {
		c.Scan.Scanners = []config.ScanScanner{{Name: "fake", URL: adapter.URL, Authorization: "Bearer adapter-key"}}
		c.Scan.RegistryURL = "http://registry.test"
	})
	registry = srv.URL
	base := srv.URL
	st, body := call(t, http.MethodGet, base+"/api/v1/scan/scanners", "")
	expect(t, "scanners", st, body, http.StatusOK, `{"name":"builtin","builtin":true,"database":{"loaded":false`,
		`{"name":"fake","builtin":false,"metadata":{"scanner":{"name":"Fake","vendor":"Test","version":"1.0"}`)
	st, body = call(t, http.MethodPut, base+"/api/v1/projects/ext/scan-policy", `{"scanner":"nope"}`)
	expect(t, "policy naming an unknown scanner", st, body, http.StatusBadRequest, "no scanner")
	st, body = call(t, http.MethodPut, base+"/api/v1/projects/ext/scan-policy", `{"scanner":"fake","prevent_severity":"high"}`)
	expect(t, "policy", st, body, http.StatusOK)

	scantest.PushImage(t, base, "ext/app", "v1", scantest.Layer(t, scantest.File{Name: "etc/os-release", Body: []byte(scantest.AlpineRelease)}))
	st, body = call(t, http.MethodPost, base+"/api/v1/projects/ext/scan/app?reference=v1&wait=true", "")
	expect(t, "external scan (no vulnerability database needed)", st, body, http.StatusOK,
		`"scanner":"fake"`, `"db_version":"Fake 1.0"`, `"findings":1`, `"worst":"CVE-2099-9"`, `"max_cvss":9.1`)
	if !pulled.Load() || polls.Load() != 2 {
		t.Errorf("adapter pulled the manifest: %v; report polls %d, want 2", pulled.Load(), polls.Load())
	}
	st, body = call(t, http.MethodGet, base+"/v2/ext/app/manifests/v1", "")
	expect(t, "gate on an external result", st, body, http.StatusForbidden, "worst: CVE-2099-9 (critical, CVSS 9.1) in openssl 3.0.1")
}
