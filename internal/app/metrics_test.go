package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// TestMetricsAccess (issue #13, finding 9): /metrics names private
// projects; metrics.token requires a bearer token for it, metrics.addr
// takes it off the API listener (berth serve gives it its own).
func TestMetricsAccess(t *testing.T) {
	const token = "scrape-token-0123456789"
	open := apptest.Start(t, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = adminPassword
		c.Auth.BcryptCost = 4
	})
	guarded := apptest.Start(t, func(c *config.Config) { c.Metrics.Token = token })
	aside := apptest.Start(t, func(c *config.Config) { c.Metrics.Addr = "127.0.0.1:0" })
	tests := []struct {
		name   string
		base   string
		method string
		authz  string
		want   int
	}{
		{"open by default", open.URL, "GET", "", http.StatusOK},
		{"token missing", guarded.URL, "GET", "", http.StatusUnauthorized},
		{"token wrong", guarded.URL, "GET", "Bearer " + token + "x", http.StatusUnauthorized},
		{"basic is not the token", guarded.URL, "GET", cred{"admin", token}.basic(), http.StatusUnauthorized},
		{"token right", guarded.URL, "GET", "Bearer " + token, http.StatusOK},
		{"POST", guarded.URL, "POST", "Bearer " + token, http.StatusMethodNotAllowed},
		{"own listener: not on the API", aside.URL, "GET", "", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := send(t, tc.method, tc.base+"/metrics", tc.authz, nil, nil)
			if res.status != tc.want {
				t.Fatalf("%s /metrics: %d, want %d", tc.method, res.status, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(res.body, "berth_blobs_stored") {
				t.Fatalf("no metrics in %.200s", res.body)
			}
			if tc.want != http.StatusOK && strings.Contains(res.body, "berth_") {
				t.Fatalf("metrics leaked: %.200s", res.body)
			}
		})
	}
	// The separate listener's handler serves them.
	rec := httptestRecorder(aside.App.MetricsHandler(), "/metrics")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "berth_blobs_stored") {
		t.Fatalf("MetricsHandler: %d", rec.Code)
	}
}

func httptestRecorder(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec
}
