package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Regression tests of the authentication findings of issue 13.

func isTooMany(err error) bool {
	var oe *oci.Error
	return errors.As(err, &oe) && oe.Code == oci.CodeTooManyRequests
}

// Finding 6: failures lock a (user, address) pair and an address, never
// the user everywhere; across addresses the user is slowed down only.
func TestLoginLockoutIsPerAddress(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	const delay = 150 * time.Millisecond
	s := newService(t, store, clk, func(c *config.Auth) {
		c.FailedLogins.PerUser, c.FailedLogins.PerAddress, c.FailedLogins.Delay = 3, 5, delay
	})
	mustOK(t, s.Manager().CreateUser(ctx, "alice", "alice-password", false))
	const attacker, alice = "198.51.100.9", "192.0.2.1"
	for range 3 {
		if _, err := s.Login(ctx, "alice", "wrong-password", attacker); err == nil || isTooMany(err) {
			t.Fatalf("failure: %v", err)
		}
	}
	// The attacker's address is refused for alice, even with her password...
	if _, err := s.Login(ctx, "alice", "alice-password", attacker); !isTooMany(err) {
		t.Fatalf("pair over its limit: %v, want 429", err)
	}
	// ...but alice, elsewhere, logs in: slowed down, not refused.
	start := time.Now()
	if _, err := s.Login(ctx, "alice", "alice-password", alice); err != nil {
		t.Fatalf("alice from her own address: %v", err)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("login after failures elsewhere took %v, want the delay %v", d, delay)
	}
	// Remembered now: no delay.
	start = time.Now()
	if _, err := s.Login(ctx, "alice", "alice-password", alice); err != nil || time.Since(start) >= delay {
		t.Errorf("cached login: %v after %v", err, time.Since(start))
	}
	// Failures for many names lock the address out for everyone.
	for _, u := range []string{"x", "y"} {
		s.Login(ctx, u, "wrong-password", attacker)
	}
	if _, err := s.Login(ctx, "bob", "whatever-pw", attacker); !isTooMany(err) {
		t.Fatalf("address over its limit: %v, want 429", err)
	}
	clk.add(6 * time.Minute) // past the window
	if _, err := s.Login(ctx, "alice", "wrong-password", attacker); isTooMany(err) {
		t.Fatalf("still refused after the window: %v", err)
	}
}

// Finding 6: the initial administrator is never refused from loopback.
func TestLoginInitialAdminFromLoopbackNeverLocked(t *testing.T) {
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, func(c *config.Auth) {
		c.Admin.Password = "admin-password"
		c.FailedLogins.PerUser, c.FailedLogins.PerAddress, c.FailedLogins.Delay = 2, 2, 0
	})
	for _, addr := range []string{"127.0.0.1", "::1", "192.0.2.1"} {
		for range 3 {
			s.Login(ctx, "admin", "wrong-password", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1", "::1"} {
		if _, err := s.Login(ctx, "admin", "admin-password", addr); err != nil {
			t.Errorf("admin from %s: %v", addr, err)
		}
	}
	s.Invalidate()
	if _, err := s.Login(ctx, "admin", "admin-password", "192.0.2.1"); !isTooMany(err) {
		t.Errorf("admin from a locked remote address: %v, want 429", err)
	}
}

// Finding 8: the login cache does not outlive a robot's expiry.
func TestExpiredRobotNotFromCache(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	m := s.Manager()
	mustOK(t, m.CreateProject(ctx, "team", false, ""))
	name, secret, err := m.CreateRobot(ctx, "team", "ci", "", []meta.RobotPermission{{Actions: []string{"pull"}}}, clk.now().Add(10*time.Second))
	mustOK(t, err)
	subj, err := s.Login(ctx, name, secret, "192.0.2.1") // cached now
	mustOK(t, err)
	tok, err := s.IssueToken(ctx, subj, pullA)
	mustOK(t, err)
	if tok.ExpiresIn > 10 {
		t.Errorf("token of a robot expiring in 10s lives %ds", tok.ExpiresIn)
	}
	clk.add(11 * time.Second)
	if _, err := s.Login(ctx, name, secret, "192.0.2.1"); err == nil {
		t.Fatal("expired robot logged in from the cache")
	}
}

// Finding 11: at most GOMAXPROCS password checks run at once; a login the
// cache remembers does not wait for them.
func TestPasswordChecksBounded(t *testing.T) {
	var running, peak atomic.Int32
	real := compareBcrypt
	compareBcrypt = func(hash, pw []byte) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		return real(hash, pw)
	}
	t.Cleanup(func() { compareBcrypt = real })
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, func(c *config.Auth) { c.FailedLogins.PerUser, c.FailedLogins.PerAddress = 0, 0 })
	mustOK(t, s.Manager().CreateUser(ctx, "alice", "alice-password", false))
	_, err := s.Login(ctx, "alice", "alice-password", "192.0.2.1")
	mustOK(t, err)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			user := []string{"alice", "nobody"}[i%2] // a wrong password and an unknown user both cost bcrypt
			s.Login(ctx, user, "wrong-password", "192.0.2.2")
		})
	}
	wg.Wait()
	if p, limit := peak.Load(), int32(cap(bcryptGate)); p > limit || p == 0 {
		t.Fatalf("%d password checks at once, bound %d", p, limit)
	}
	// Every slot taken: a remembered login still answers at once, another
	// waits no longer than its context.
	for range cap(bcryptGate) {
		bcryptGate <- struct{}{}
	}
	defer func() {
		for range cap(bcryptGate) {
			<-bcryptGate
		}
	}()
	start := time.Now()
	if _, err := s.Login(ctx, "alice", "alice-password", "192.0.2.1"); err != nil || time.Since(start) > time.Second {
		t.Errorf("cached login with the gate full: %v after %v", err, time.Since(start))
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = s.Login(short, "alice", "other-password", "192.0.2.1")
	var oe *oci.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusServiceUnavailable {
		t.Errorf("login with the gate full: %v, want 503", err)
	}
}

// Finding 12: robot secrets and access tokens carry 256 random bits.
func TestSecretsHave256Bits(t *testing.T) {
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, nil)
	m := s.Manager()
	mustOK(t, m.CreateUser(ctx, "alice", "alice-password", false))
	_, secret, err := m.CreateRobot(ctx, "", "ci", "", []meta.RobotPermission{{Project: "*", Actions: []string{"pull"}}}, time.Time{})
	mustOK(t, err)
	if b, err := hex.DecodeString(secret); err != nil || len(b) != 32 {
		t.Errorf("robot secret %q: %d bytes, want 32", secret, len(b))
	}
	pat, _, err := m.CreateAccessToken(ctx, "alice", "laptop", time.Time{})
	mustOK(t, err)
	part := pat[strings.LastIndex(pat, "_")+1:]
	if b, err := hex.DecodeString(part); err != nil || len(b) != 32 {
		t.Errorf("access token secret: %d bytes, want 32", len(b))
	}
	if _, err := s.Login(ctx, "alice", pat, "192.0.2.1"); err != nil {
		t.Errorf("access token: %v", err)
	}
	old := patPrefix + strings.Repeat("a", 16) + "_" + strings.Repeat("b", 48) // made before
	if accessTokenID(old) == "" {
		t.Error("an access token made before secrets had 256 bits is not recognised")
	}
}

// Finding 1: a user name longer than any valid one is refused and never
// kept by the limiters.
func TestLoginOverlongName(t *testing.T) {
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, nil)
	huge := strings.Repeat("u", 60000)
	if _, err := s.Login(ctx, huge, "p", "192.0.2.1"); err == nil {
		t.Fatal("logged in")
	}
	s.users.mu.Lock()
	defer s.users.mu.Unlock()
	s.pairs.mu.Lock()
	defer s.pairs.mu.Unlock()
	if len(s.users.failures)+len(s.pairs.failures) != 0 {
		t.Errorf("limiters hold the over-long name")
	}
}

// Finding 4: rotation with revoke makes old tokens fail at once here, and
// on another instance when it reloads its keys.
func TestRotateRevoke(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	other := newService(t, store, clk, nil)
	tok, err := s.IssueToken(ctx, &Subject{Name: "alice", Kind: KindUser}, pullA)
	mustOK(t, err)
	_, err = other.keys.verify(ctx, tok.Token, "berth", nil)
	mustOK(t, err)
	clk.add(time.Second)
	_, err = s.RotateKey(ctx, true)
	mustOK(t, err)
	if _, err := s.keys.verify(ctx, tok.Token, "berth", nil); err == nil {
		t.Fatal("token of a revoked key accepted")
	}
	clk.add(keyReload)
	if _, err := other.keys.verify(ctx, tok.Token, "berth", nil); err == nil {
		t.Fatal("token of a revoked key accepted by another instance after its reload")
	}
	fresh, err := other.IssueToken(ctx, nil, pullA)
	mustOK(t, err)
	if _, err := s.keys.verify(ctx, fresh.Token, "berth", nil); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
}

// Finding 4: a token of Berth's own keys living longer than the
// configured TTL is refused.
func TestTokenLifetimeBounded(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, nil)
	key, _ := s.keys.current()
	sign := func(life time.Duration, use string) string {
		c := Claims{RegisteredClaims: jwt.RegisteredClaims{Issuer: "berth", Subject: "alice", Audience: jwt.ClaimStrings{"berth"},
			IssuedAt: jwt.NewNumericDate(clk.now()), ExpiresAt: jwt.NewNumericDate(clk.now().Add(life))}, Access: pullA, Use: use}
		tk := jwt.NewWithClaims(jwt.SigningMethodES256, c)
		tk.Header["kid"] = key.id
		raw, err := tk.SignedString(key.priv)
		mustOK(t, err)
		return raw
	}
	ttl := s.cfg.Token.TTL
	if _, err := s.keys.verify(ctx, sign(ttl, ""), "berth", nil); err != nil {
		t.Fatalf("token of the configured lifetime: %v", err)
	}
	if _, err := s.keys.verify(ctx, sign(365*24*time.Hour, ""), "berth", nil); err == nil {
		t.Fatal("access token living a year accepted")
	}
	if _, err := s.keys.parse(ctx, sign(s.cfg.Token.RefreshTTL+time.Hour, useRefresh), "berth", nil); err == nil {
		t.Fatal("refresh token living past refresh_ttl accepted")
	}
}

// Finding 3: a management call with the token of a deleted or demoted
// administrator, or of a deleted robot, is refused.
func TestManagementRechecksTokenSubject(t *testing.T) {
	store := openStore(t)
	clk := &clock{t: time.Now()}
	s := newService(t, store, clk, func(c *config.Auth) { c.Admin.Password = "admin-password" })
	m := s.Manager()
	mustOK(t, m.CreateUser(ctx, "boss", "boss-password", true))
	mustOK(t, m.CreateUser(ctx, "chief", "chief-password", true))
	_, _, err := m.CreateRobot(ctx, "", "ops", "", []meta.RobotPermission{{Project: "*", Actions: []string{"pull"}}}, time.Time{})
	mustOK(t, err)
	call := func(tok string, perm manage.Permission) int {
		h := s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.CheckAPI(r, perm); err != nil {
				var oe *oci.Error
				errors.As(err, &oe)
				w.WriteHeader(oe.HTTPStatus())
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
		req := httptest.NewRequest("GET", "/api/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	issue := func(name string, kind Kind, admin bool) string {
		tok, err := s.IssueToken(ctx, &Subject{Name: name, Kind: kind, Admin: admin}, nil)
		mustOK(t, err)
		return tok.Token
	}
	boss, chief, robot := issue("boss", KindUser, true), issue("chief", KindUser, true), issue("robot$ops", KindRobot, false)
	for _, tok := range []string{boss, chief} {
		if c := call(tok, manage.PermSystemAdmin); c != http.StatusOK {
			t.Fatalf("admin token: %d", c)
		}
	}
	if c := call(robot, manage.PermAuthenticated); c != http.StatusOK {
		t.Fatalf("robot token: %d", c)
	}
	mustOK(t, m.DeleteUser(ctx, "boss"))
	for _, perm := range []manage.Permission{manage.PermSystemAdmin, manage.PermPublic} {
		if c := call(boss, perm); c != http.StatusUnauthorized {
			t.Errorf("deleted admin's token on a %v route: %d, want 401", perm, c)
		}
	}
	no := false
	mustOK(t, m.UpdateUser(ctx, "chief", "", &no))
	if c := call(chief, manage.PermSystemAdmin); c != http.StatusForbidden {
		t.Errorf("demoted admin's token: %d, want 403", c)
	}
	if c := call(chief, manage.PermAuthenticated); c != http.StatusOK {
		t.Errorf("demoted admin's token for their own calls: %d", c)
	}
	mustOK(t, m.DeleteRobot(ctx, "", "ops"))
	if c := call(robot, manage.PermAuthenticated); c != http.StatusUnauthorized {
		t.Errorf("deleted robot's token: %d, want 401", c)
	}
}
