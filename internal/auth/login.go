package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/oci"
)

// Login checks a user name and password (or robot secret, or access
// token) from client address addr. Failed logins are limited so that
// nobody can lock another out:
//   - per user name and address (auth.failed_logins.per_user): that
//     address gets 429 for that name;
//   - per address (per_address): that address gets 429 for every name;
//   - per user name across addresses (per_user again): every login for
//     the name is slowed down by auth.failed_logins.delay, and the right
//     password still succeeds.
//
// The initial administrator (auth.admin.username) is never refused from
// a loopback address. A login remembered in the cache (a correct password
// a moment ago) skips all of this and bcrypt.
func (s *Service) Login(ctx context.Context, user, pw, addr string) (*Subject, error) {
	start := time.Now()
	subj, result, err := s.login(ctx, user, pw, addr)
	s.observeLogin(result, time.Since(start))
	return subj, err
}

// login is Login, also naming the outcome (Login* constants).
func (s *Service) login(ctx context.Context, user, pw, addr string) (*Subject, string, error) {
	if len(user) > MaxUserName {
		// No valid name is this long: refused unlogged and uncounted by
		// name (it would make the limiter hold it).
		if s.addrs.blocked(addr) {
			return nil, LoginThrottled, errTooManyLogins()
		}
		s.addrs.fail(addr)
		return nil, LoginFailure, s.unauthorized("invalid username or password")
	}
	if subj := s.cache.get(user, pw); subj != nil {
		return subj, LoginCached, nil
	}
	pair := user + "\x00" + addr
	if !s.neverLocked(user, addr) && (s.pairs.blocked(pair) || s.addrs.blocked(addr)) {
		s.log.WarnContext(ctx, "login refused: too many failed logins", "user", user, "remote", addr)
		return nil, LoginThrottled, errTooManyLogins()
	}
	if s.users.blocked(user) {
		if err := s.slowDown(ctx); err != nil {
			return nil, LoginUnavailable, err
		}
	}
	subj, err := s.checkPassword(ctx, user, pw)
	if errors.Is(err, ErrUnavailable) {
		// Not the user's fault: no failure counted.
		s.log.ErrorContext(ctx, "login failed: a source of users is unavailable", "user", user, "error", err)
		return nil, LoginUnavailable, unavailable(err)
	}
	if err != nil {
		s.users.fail(user)
		s.pairs.fail(pair)
		s.addrs.fail(addr)
		s.log.InfoContext(ctx, "login failed", "user", user, "remote", addr)
		return nil, LoginFailure, s.unauthorized("invalid username or password")
	}
	if s.admins[subj.Name] && subj.Kind == KindUser {
		subj.Admin = true
	}
	s.cache.put(user, pw, subj)
	return subj, LoginSuccess, nil
}

func unavailable(err error) error {
	return &oci.Error{Code: oci.CodeUnknown, Status: http.StatusServiceUnavailable,
		Message: "cannot check the credentials now: " + err.Error()}
}

// neverLocked reports whether user is the initial administrator logging
// in from the host itself: the way back in must stay open.
func (s *Service) neverLocked(user, addr string) bool {
	if user != s.cfg.Admin.Username || !s.cfg.HasMode(config.AuthBuiltin) {
		return false
	}
	a, err := netip.ParseAddr(addr)
	return err == nil && a.Unmap().IsLoopback()
}

// slowDown waits auth.failed_logins.delay, or until ctx ends.
func (s *Service) slowDown(ctx context.Context) error {
	d := s.cfg.FailedLogins.Delay
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return unavailable(ctx.Err())
	}
}

// gate bounds concurrent password checks: bcrypt is built to be slow, and
// failed logins from many addresses would otherwise take every core from
// the requests that do not need it.
type gate chan struct{}

// bcryptGate is shared by every source of users of the process: the
// cores are.
var bcryptGate = make(gate, runtime.GOMAXPROCS(0))

// maxGateWait bounds the wait for a password check besides the request's
// context: past it the login gets 503, not counted as a failure.
const maxGateWait = 10 * time.Second

var errBusy = errors.New("too many password checks in progress")

// do runs f when a slot is free, or fails with an error wrapping
// ErrUnavailable when ctx ends or maxGateWait passes first.
func (g gate) do(ctx context.Context, f func()) error {
	t := time.NewTimer(maxGateWait)
	defer t.Stop()
	select {
	case g <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	case <-t.C:
		return fmt.Errorf("%w: %w", ErrUnavailable, errBusy)
	}
	defer func() { <-g }()
	f()
	return nil
}

// compareBcrypt is bcrypt's comparison (a variable for the test that
// counts concurrent checks).
var compareBcrypt = bcrypt.CompareHashAndPassword

// checkBcrypt compares a password with a bcrypt hash (constant time in
// the password, as bcrypt is), within the gate.
func checkBcrypt(ctx context.Context, hash, pw string) (bool, error) {
	ok := false
	err := bcryptGate.do(ctx, func() { ok = compareBcrypt([]byte(hash), []byte(pw)) == nil })
	return ok, err
}
