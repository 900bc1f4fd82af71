package ldap

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/oci"
)

var ctx = context.Background()

func ldapConfig(url string) config.LDAP {
	c := config.Default().Auth.LDAP
	c.URL = url
	c.BindDN, c.BindPassword = "cn=reader,"+baseDN, "reader-secret"
	c.UserBaseDN = "ou=people," + baseDN
	c.GroupBaseDN = "ou=groups," + baseDN
	c.AdminGroup = "registry-admins"
	c.Timeout = 2 * time.Second
	return c
}

func newClient(t *testing.T, c config.LDAP) *Client {
	cl, err := New(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// newService is access control with builtin users and LDAP: a builtin
// user local, project team where LDAP group devs are developers.
func newService(t *testing.T, cl *Client) *auth.Service {
	t.Helper()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := config.Default().Auth
	c.Mode, c.BcryptCost = "builtin,ldap", 4
	c.FailedLogins.PerUser, c.FailedLogins.PerAddress = 3, 3
	s, err := auth.New(ctx, c, store, slog.New(slog.NewTextHandler(io.Discard, nil)), auth.Options{LDAP: cl})
	if err != nil {
		t.Fatal(err)
	}
	m := s.Manager()
	if err := m.CreateUser(ctx, "local", "local-password", false); err != nil {
		t.Fatal(err)
	}
	if err := m.CreateProject(ctx, "team", false, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.PutMember(ctx, "team", "group", "devs", "developer"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLDAP(t *testing.T) {
	url := startSlapd(t)
	for _, mode := range []string{"group search", "memberOf"} {
		t.Run(mode, func(t *testing.T) {
			c := ldapConfig(url)
			cl := newClient(t, c)
			if mode == "memberOf" {
				// Groups from the users' memberOf (the slapd overlay
				// maintains it), without a group search.
				c.GroupBaseDN = ""
				cl = newClient(t, c)
			}
			groups, admin, err := cl.Authenticate(ctx, "alice", "alice-ldap-pw")
			if err != nil || !slices.Equal(groups, []string{"devs"}) || admin {
				t.Fatalf("alice: %v %v %v", groups, admin, err)
			}
			if _, admin, err := cl.Authenticate(ctx, "bob", "bob-ldap-pw"); err != nil || !admin {
				t.Fatalf("bob (registry-admins): admin=%v %v", admin, err)
			}
			for _, bad := range [][2]string{{"alice", "wrong"}, {"alice", ""}, {"nobody", "x"}, {"al*", "alice-ldap-pw"}} {
				_, _, err := cl.Authenticate(ctx, bad[0], bad[1])
				if !errors.Is(err, auth.ErrBadPassword) && !errors.Is(err, auth.ErrUnknownUser) {
					t.Errorf("%q/%q: %v", bad[0], bad[1], err)
				}
			}
			if groups, _, err := cl.Lookup(ctx, "alice"); err != nil || !slices.Equal(groups, []string{"devs"}) {
				t.Fatalf("Lookup(alice) = %v, %v", groups, err)
			}
		})
	}
}

// A group mapped to a role gives its members the role; LDAP and local
// users log in side by side.
func TestLDAPUsersInProjects(t *testing.T) {
	url := startSlapd(t)
	s := newService(t, newClient(t, ldapConfig(url)))
	alice, err := s.Login(ctx, "alice", "alice-ldap-pw", "192.0.2.1")
	if err != nil || alice.Source != "ldap" {
		t.Fatalf("alice: %+v, %v", alice, err)
	}
	acts, err := s.Actions(ctx, alice, "team/app", false)
	if err != nil || !slices.Equal(acts, []string{"pull", "push"}) {
		t.Fatalf("alice (group devs = developer) on team: %v, %v", acts, err)
	}
	carol, err := s.Login(ctx, "carol", "carol-ldap-pw", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if acts, _ := s.Actions(ctx, carol, "team/app", false); len(acts) != 0 {
		t.Fatalf("carol (no group) on team: %v", acts)
	}
	bob, err := s.Login(ctx, "bob", "bob-ldap-pw", "192.0.2.1")
	if err != nil || !bob.Admin {
		t.Fatalf("bob: %+v, %v", bob, err)
	}
	if _, err := s.Login(ctx, "alice", "wrong-password", "192.0.2.1"); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := s.Login(ctx, "local", "local-password", "192.0.2.1"); err != nil {
		t.Fatalf("local user: %v", err)
	}
}

// An unreachable LDAP server: LDAP users get a clear 503, the failures are
// not counted against anyone, and local users still log in.
func TestLDAPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ldap://" + ln.Addr().String() + "/"
	ln.Close() // nothing listens there now
	s := newService(t, newClient(t, ldapConfig(url)))
	for range 5 { // beyond the limits of 3
		_, err := s.Login(ctx, "alice", "alice-ldap-pw", "192.0.2.1")
		var oe *oci.Error
		if !errors.As(err, &oe) || oe.HTTPStatus() != http.StatusServiceUnavailable ||
			!strings.Contains(oe.Message, "LDAP server "+url) || !strings.Contains(oe.Message, "cannot connect") {
			t.Fatalf("login with LDAP down: %v", err)
		}
	}
	if _, err := s.Login(ctx, "local", "local-password", "192.0.2.1"); err != nil {
		t.Fatalf("local user while LDAP is down: %v", err)
	}
	// A wrong local password is still a plain 401, not a 503.
	if _, err := s.Login(ctx, "local", "wrong-password", "192.0.2.2"); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("wrong local password: %v", err)
	}
}
