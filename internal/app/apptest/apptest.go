// Package apptest starts a complete in-process Berth for tests: the real
// stores in a temporary directory behind an httptest server.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/config"
)

// Server is a running test instance.
type Server struct {
	*httptest.Server
	App    *app.App
	Config *config.Config
}

// Start runs Berth with the default configuration over t.TempDir(); edit,
// if not nil, may change the configuration first. Everything is stopped
// when the test ends.
func Start(t testing.TB, edit func(*config.Config)) *Server {
	t.Helper()
	cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log.Access = false
	if edit != nil {
		edit(cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := app.New(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	a.StartJobs(context.Background())
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &Server{Server: srv, App: a, Config: cfg}
}
