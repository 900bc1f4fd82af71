package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/meta"
)

// oidcTests are the OpenID Connect identity cases of the suite.
var oidcTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"OIDCIdentities", testOIDCIdentities},
}

func testOIDCIdentities(t *testing.T, s meta.Store) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	id := meta.OIDCIdentity{Issuer: "https://idp.example.com", Subject: "1234", User: "jane",
		Email: "jane@example.com", Groups: []string{"devs", "ops"}, Admin: true, LastLogin: t0}
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "jane"}, id); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, "jane")
	if err != nil || u.PasswordHash != meta.ExternalPassword || u.Admin {
		t.Fatalf("User(jane) = %+v, %v; want an external password and no admin flag of its own", u, err)
	}
	for _, get := range []func() (meta.OIDCIdentity, error){
		func() (meta.OIDCIdentity, error) { return s.OIDCIdentity(ctx, id.Issuer, id.Subject) },
		func() (meta.OIDCIdentity, error) { return s.OIDCIdentityOfUser(ctx, "jane") },
	} {
		got, err := get()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(id, got); d != "" {
			t.Fatalf("identity (-want +got):\n%s", d)
		}
	}
	// The name or the account taken: nothing is created.
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "jane"}, meta.OIDCIdentity{Issuer: id.Issuer, Subject: "other"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("name taken: %v, want ErrExists", err)
	}
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "jane2"}, id); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("account taken: %v, want ErrExists", err)
	}
	if _, err := s.User(ctx, "jane2"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("a failed CreateOIDCUser left its user: %v", err)
	}
	if ids, err := s.OIDCIdentitiesWithRefresh(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("no refresh tokens yet: %v, %v", ids, err)
	}
	// Groups refreshed at the next login, the admin group lost.
	id.Groups, id.Admin, id.LastLogin, id.RefreshToken = nil, false, t0.Add(time.Hour), "rt-1"
	if err := s.UpdateOIDCIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	got, err := s.OIDCIdentityOfUser(ctx, "jane")
	if err != nil || len(got.Groups) != 0 || got.Admin || !got.LastLogin.Equal(id.LastLogin) {
		t.Fatalf("after update: %+v, %v", got, err)
	}
	if ids, err := s.OIDCIdentitiesWithRefresh(ctx); err != nil || len(ids) != 1 || ids[0].User != "jane" || ids[0].RefreshToken != "rt-1" {
		t.Fatalf("with refresh tokens: %+v, %v", ids, err)
	}
	if err := s.UpdateOIDCIdentity(ctx, meta.OIDCIdentity{Issuer: "x", Subject: "y"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("update of an unknown identity: %v", err)
	}
	// A builtin user has none; deleting the user drops the link.
	if err := s.CreateUser(ctx, meta.User{Name: "bob", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OIDCIdentityOfUser(ctx, "bob"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("builtin user: %v", err)
	}
	if err := s.DeleteUser(ctx, "jane"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OIDCIdentity(ctx, id.Issuer, id.Subject); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("identity after its user was deleted: %v", err)
	}
	// A user made beforehand without a password is linked at its first
	// login; a builtin user of the name is not.
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "bob"}, meta.OIDCIdentity{Issuer: id.Issuer, Subject: "bob"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("builtin user of the name: %v, want ErrExists", err)
	}
	if err := s.CreateUser(ctx, meta.User{Name: "carol", PasswordHash: meta.ExternalPassword}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "carol"}, meta.OIDCIdentity{Issuer: id.Issuer, Subject: "carol", Groups: []string{"x"}}); err != nil {
		t.Fatalf("user made beforehand: %v", err)
	}
	if got, err := s.OIDCIdentityOfUser(ctx, "carol"); err != nil || got.Subject != "carol" || len(got.Groups) != 1 {
		t.Fatalf("link of carol: %+v, %v", got, err)
	}
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "carol"}, meta.OIDCIdentity{Issuer: id.Issuer, Subject: "carol2"}); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("linked twice: %v, want ErrExists", err)
	}
	// The account may then be onboarded again.
	if err := s.CreateOIDCUser(ctx, meta.User{Name: "jane"}, id); err != nil {
		t.Fatal(err)
	}
}
