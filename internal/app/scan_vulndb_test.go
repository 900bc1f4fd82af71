package app_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/registry"
)

// TestVulnDBNotFromMirrorByDefault: with a mirror-mode pull-through cache
// (a Docker Hub mirror), the default database repository (vulndb/osv) is
// never fetched from the upstream, where anyone could own that name; a
// repository named explicitly is.
func TestVulnDBNotFromMirrorByDefault(t *testing.T) {
	var asked atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		if strings.Contains(r.URL.Path, "/manifests/") {
			asked.Add(1)
		}
		http.NotFound(w, r)
	}))
	defer up.Close()
	start := func(repo string) *apptest.Server {
		return apptest.Start(t, func(c *config.Config) {
			c.Proxy.Upstreams = []config.Upstream{{Name: "hub", URL: up.URL, Project: "hub", Mirror: true,
				ManifestTTL: time.Hour, Timeout: 5 * time.Second}}
			c.Scan.Database.Repository = repo
		})
	}
	s := start(config.DefaultVulnDBRepository)
	err := s.App.LoadVulnDB(context.Background())
	if !errors.Is(err, registry.ErrNameUnknown) || !strings.Contains(err.Error(), "scan.database.repository") {
		t.Fatalf("load of the default repository through a mirror: %v", err)
	}
	if n := asked.Load(); n != 0 {
		t.Fatalf("the upstream was asked %d times for the default vulnerability database", n)
	}
	s = start("security/osv")
	s.App.LoadVulnDB(context.Background())
	if asked.Load() == 0 {
		t.Fatal("an explicitly named upstream repository was not asked for")
	}
}
