package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// publicOnly lets every public route through, as the app's authorizer does.
type publicOnly struct{}

func (publicOnly) Authorize(r *http.Request, p manage.Permission) error {
	if p != manage.PermPublic {
		return errForbidden
	}
	return nil
}
func (publicOnly) Allowed(*http.Request, string, string) bool       { return false }
func (publicOnly) MayCreateProject(*http.Request) bool              { return false }
func (publicOnly) Visible(*http.Request) (func(string) bool, error) { return nil, nil }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestSessionTimeouts logs in and moves the clock: a session ends when
// unused for ui.session.idle_timeout, and at ui.session.max_age however
// much it is used.
func TestSessionTimeouts(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Now()}
	cfg := config.Default()
	cfg.Auth.Mode, cfg.Auth.BcryptCost, cfg.Auth.Admin.Password = "builtin", 4, "admin-password"
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := auth.New(ctx, cfg.Auth, store, log, auth.Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Options{Config: config.UI{Enabled: true, Session: config.UISession{IdleTimeout: time.Hour, MaxAge: 3 * time.Hour}},
		Auth: svc, Sessions: store, Access: publicOnly{}, Log: log, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	u.Mount(mux)
	srv := httptest.NewServer(svc.Middleware(mux))
	t.Cleanup(srv.Close)

	login := func() []*http.Cookie {
		req, _ := http.NewRequest("POST", srv.URL+"/ui/login", strings.NewReader(url.Values{"username": {"admin"}, "password": {"admin-password"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("log-in: %d", res.StatusCode)
		}
		return res.Cookies()
	}
	// loggedIn asks the log-in page, which redirects a logged-in viewer.
	loggedIn := func(cookies []*http.Cookie) bool {
		req, _ := http.NewRequest("GET", srv.URL+"/ui/login", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode == http.StatusSeeOther
	}

	steps := []struct {
		name    string
		advance time.Duration
		want    bool
	}{
		{"fresh", 0, true},
		{"used within the idle timeout", 59 * time.Minute, true},
		{"used again within the idle timeout", 59 * time.Minute, true},
		{"still used", 59 * time.Minute, true},
		{"past the absolute maximum", 4 * time.Minute, false},
	}
	c := login()
	for _, s := range steps {
		clk.add(s.advance)
		if got := loggedIn(c); got != s.want {
			t.Fatalf("%s: logged in %v, want %v", s.name, got, s.want)
		}
	}
	c = login()
	clk.add(61 * time.Minute)
	if loggedIn(c) {
		t.Fatal("a session idle past the idle timeout still works")
	}
	if _, err := store.Session(ctx, sessionID(c[0].Value)); err == nil {
		t.Fatal("the ended session is still stored")
	}
}
