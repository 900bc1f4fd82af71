package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
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

// testServer is a UI over a real SQLite store and auth service, with a
// clock the test moves.
type testServer struct {
	url   string
	clk   *clock
	store *sqlite.Store
}

// fakeLDAP is a directory with one user; gone makes them disappear.
type fakeLDAP struct {
	mu   sync.Mutex
	gone bool
}

func (f *fakeLDAP) Authenticate(_ context.Context, user, pw string) ([]string, bool, error) {
	if _, _, err := f.Lookup(context.Background(), user); err != nil {
		return nil, false, err
	}
	if pw != "ldap-password" {
		return nil, false, auth.ErrBadPassword
	}
	return []string{"devs"}, false, nil
}

func (f *fakeLDAP) Lookup(_ context.Context, user string) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if user != "lena" || f.gone {
		return nil, false, auth.ErrUnknownUser
	}
	return []string{"devs"}, false, nil
}

func startTestServer(t *testing.T, mode string, edit func(*config.Auth), dir *fakeLDAP) *testServer {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := &clock{t: time.Now()}
	cfg := config.Default()
	cfg.Auth.Mode, cfg.Auth.BcryptCost, cfg.Auth.Admin.Password = mode, 4, "admin-password"
	if edit != nil {
		edit(&cfg.Auth)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := auth.Options{Now: clk.now}
	if dir != nil {
		o.LDAP = dir
	}
	svc, err := auth.New(ctx, cfg.Auth, store, log, o)
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
	return &testServer{url: srv.URL, clk: clk, store: store}
}

// login posts the log-in form and returns the session cookie (nil when
// the log-in failed).
func (s *testServer) login(t *testing.T, user, pw string) []*http.Cookie {
	t.Helper()
	req, _ := http.NewRequest("POST", s.url+"/ui/login", strings.NewReader(url.Values{"username": {user}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil
	}
	return res.Cookies()
}

// loggedIn asks the log-in page, which redirects a logged-in viewer.
func (s *testServer) loggedIn(t *testing.T, cookies []*http.Cookie) bool {
	t.Helper()
	req, _ := http.NewRequest("GET", s.url+"/ui/login", nil)
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

// TestLoginSources logs in to the UI with each source of users, through
// the same code as the token endpoint.
func TestLoginSources(t *testing.T) {
	hash, err := auth.HashPassword("htpasswd-password", 4)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("hilda:"+hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := &fakeLDAP{}
	s := startTestServer(t, "builtin,htpasswd,ldap", func(a *config.Auth) { a.Htpasswd.Path = htpasswd }, dir)
	tests := []struct {
		name, user, pw string
		ok             bool
	}{
		{"builtin", "admin", "admin-password", true},
		{"htpasswd", "hilda", "htpasswd-password", true},
		{"ldap", "lena", "ldap-password", true},
		{"ldap wrong password", "lena", "nope", false},
		{"unknown", "nobody", "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := s.login(t, tc.user, tc.pw)
			if (c != nil) != tc.ok || (tc.ok && !s.loggedIn(t, c)) {
				t.Fatalf("log-in as %s: cookie %v, want success %v", tc.user, c, tc.ok)
			}
		})
	}
	// A user who leaves the directory is logged out at the next request.
	c := s.login(t, "lena", "ldap-password")
	dir.mu.Lock()
	dir.gone = true
	dir.mu.Unlock()
	if s.loggedIn(t, c) {
		t.Fatal("a user gone from LDAP is still logged in")
	}
}

// TestSessionTimeouts logs in and moves the clock: a session ends when
// unused for ui.session.idle_timeout, and at ui.session.max_age however
// much it is used.
func TestSessionTimeouts(t *testing.T) {
	s := startTestServer(t, "builtin", nil, nil)
	clk := s.clk
	login := func() []*http.Cookie { return s.login(t, "admin", "admin-password") }
	loggedIn := func(c []*http.Cookie) bool { return s.loggedIn(t, c) }

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
	if _, err := s.store.Session(context.Background(), sessionID(c[0].Value)); err == nil {
		t.Fatal("the ended session is still stored")
	}
}
