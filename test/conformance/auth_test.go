package conformance

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
)

// basicAuth adds HTTP Basic credentials to every request.
type basicAuth struct {
	user, pass string
	next       http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.pass)
	return b.next.RoundTrip(r)
}

// TestConformanceWithAuth runs the whole suite against an in-process
// Berth with access control on, as an administrator sending Basic
// credentials with every request: authorization must change nothing for
// a caller allowed everything.
func TestConformanceWithAuth(t *testing.T) {
	if os.Getenv("CONFORMANCE_URL") != "" {
		t.Skip("CONFORMANCE_URL names an external registry")
	}
	srv := apptest.Start(t, func(c *config.Config) {
		c.Auth.Mode = "builtin"
		c.Auth.Admin.Password = "conformance-admin"
		c.Auth.BcryptCost = 4
	})
	client := &http.Client{
		Timeout:   2 * time.Minute,
		Transport: basicAuth{"admin", "conformance-admin", http.DefaultTransport},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	RunWithOptions(t, srv.URL, Options{Client: client})
}
