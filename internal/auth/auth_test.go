package auth

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

var ctx = context.Background()

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T) meta.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testConfig() config.Auth {
	c := config.Default().Auth
	c.Mode = "builtin"
	c.BcryptCost = 4
	return c
}

func newService(t *testing.T, store meta.Store, clk *clock, edit func(*config.Auth)) *Service {
	t.Helper()
	c := testConfig()
	if edit != nil {
		edit(&c)
	}
	s, err := New(ctx, c, store, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoginSources(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, func(c *config.Auth) { c.Admins = []string{"bob"} })
	m := s.Manager()
	mustOK(t, m.CreateUser(ctx, "alice", "alice-password", false))
	mustOK(t, m.CreateUser(ctx, "bob", "bob-password", false))
	mustOK(t, m.CreateProject(ctx, "team", false, ""))
	_, secret, err := m.CreateRobot(ctx, "team", "ci", "", []meta.RobotPermission{{Actions: []string{"pull"}}}, clk.now().Add(time.Hour))
	mustOK(t, err)
	pat, _, err := m.CreateAccessToken(ctx, "alice", "laptop", time.Time{})
	mustOK(t, err)

	for _, tc := range []struct {
		user, pw string
		ok       bool
		kind     Kind
		admin    bool
	}{
		{"alice", "alice-password", true, KindUser, false},
		{"alice", "wrong-password", false, "", false},
		{"nobody", "alice-password", false, "", false},
		{"bob", "bob-password", true, KindUser, true}, // in auth.admins
		{"robot$team+ci", secret, true, KindRobot, false},
		{"robot$team+ci", secret + "x", false, "", false},
		{"alice", pat, true, KindUser, false},
		{"bob", pat, false, "", false}, // another user's token
	} {
		subj, err := s.Login(ctx, tc.user, tc.pw, "192.0.2.1")
		if (err == nil) != tc.ok || (tc.ok && (subj.Kind != tc.kind || subj.Admin != tc.admin || subj.Name != tc.user)) {
			t.Errorf("Login(%s) = %+v, %v; want ok=%v", tc.user, subj, err, tc.ok)
		}
	}
	// The robot expires; the token is revoked.
	clk.add(2 * time.Hour)
	s.Invalidate()
	if _, err := s.Login(ctx, "robot$team+ci", secret, "192.0.2.1"); err == nil {
		t.Error("expired robot logged in")
	}
	ts, _ := m.AccessTokens(ctx, "alice")
	mustOK(t, m.DeleteAccessToken(ctx, "alice", ts[0].ID))
	if _, err := s.Login(ctx, "alice", pat, "192.0.2.1"); err == nil {
		t.Error("revoked access token logged in")
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLimiter(t *testing.T) {
	clk := &clock{t: time.Now()}
	l := newLimiter(3, time.Minute, clk.now)
	for range 3 {
		if l.blocked("u") {
			t.Fatal("blocked early")
		}
		l.fail("u")
	}
	if !l.blocked("u") || l.blocked("v") {
		t.Fatal("limit not applied per key")
	}
	clk.add(61 * time.Second)
	if l.blocked("u") {
		t.Fatal("still blocked after the window")
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, func(c *config.Auth) {
		c.FailedLogins.PerUser, c.FailedLogins.PerAddress = 0, 2
	})
	mustOK(t, s.Manager().CreateUser(ctx, "alice", "alice-password", false))
	s.Login(ctx, "x", "bad-password", "192.0.2.7")
	s.Login(ctx, "y", "bad-password", "192.0.2.7")
	if _, err := s.Login(ctx, "alice", "alice-password", "192.0.2.7"); err == nil {
		t.Fatal("address over its limit logged in")
	}
	if _, err := s.Login(ctx, "alice", "alice-password", "192.0.2.8"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func TestBootstrapAdmin(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	newService(t, store, clk, func(c *config.Auth) { c.Admin.Password = "first-password" })
	// A second start with another password does not reset it.
	s := newService(t, store, clk, func(c *config.Auth) { c.Admin.Password = "other-password" })
	if subj, err := s.Login(ctx, "admin", "first-password", "a"); err != nil || !subj.Admin {
		t.Fatalf("admin login: %+v, %v", subj, err)
	}
	if _, err := s.Login(ctx, "admin", "other-password", "a"); err == nil {
		t.Fatal("the admin password was reset on restart")
	}
}

func openFuzzStore(dir string) (meta.Store, error) {
	return sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
