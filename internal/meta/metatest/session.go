package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// sessionTests are the web UI session cases of the suite.
var sessionTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"Sessions", testSessions},
	{"SessionsEndWithTheirUser", testSessionsEndWithUser},
}

func testSessions(t *testing.T, s meta.Store) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	a := meta.Session{ID: "a", User: "alice", Source: "ldap", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(12 * time.Hour)}
	if err := s.CreateSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, a); !errors.Is(err, meta.ErrExists) {
		t.Fatalf("same ID again: %v, want ErrExists", err)
	}
	got, err := s.Session(ctx, "a")
	if err != nil || got != a {
		t.Fatalf("Session(a) = %+v, %v; want %+v", got, err, a)
	}
	if _, err := s.Session(ctx, "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Session(nope): %v", err)
	}
	if err := s.TouchSession(ctx, "a", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Session(ctx, "a"); !got.LastSeen.Equal(t0.Add(time.Hour)) {
		t.Fatalf("LastSeen after touch: %v", got.LastSeen)
	}
	if err := s.TouchSession(ctx, "nope", t0); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("TouchSession(nope): %v", err)
	}

	// b went idle, c is past its absolute end, d is alive.
	for _, ss := range []meta.Session{
		{ID: "b", User: "bob", CreatedAt: t0, LastSeen: t0, ExpiresAt: t0.Add(12 * time.Hour)},
		{ID: "c", User: "bob", CreatedAt: t0, LastSeen: t0.Add(3 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)},
		{ID: "d", User: "bob", CreatedAt: t0, LastSeen: t0.Add(3 * time.Hour), ExpiresAt: t0.Add(12 * time.Hour)},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeSessions(ctx, t0.Add(30*time.Minute), t0.Add(3*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeSessions = %d, %v; want 2 (b idle, c expired)", n, err)
	}
	for id, want := range map[string]bool{"a": true, "b": false, "c": false, "d": true} {
		if _, err := s.Session(ctx, id); (err == nil) != want {
			t.Errorf("session %s after purge: %v, want present %v", id, err, want)
		}
	}
	if err := s.DeleteSession(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "a"); err != nil {
		t.Fatalf("deleting a deleted session: %v", err)
	}
	if _, err := s.Session(ctx, "a"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("after DeleteSession: %v", err)
	}
	if n, err := s.DeleteUserSessions(ctx, "bob"); err != nil || n != 1 {
		t.Fatalf("DeleteUserSessions(bob) = %d, %v; want 1", n, err)
	}
}

func testSessionsEndWithUser(t *testing.T, s meta.Store) {
	if err := s.CreateUser(ctx, meta.User{Name: "alice", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, ss := range []meta.Session{
		{ID: "a1", User: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "a2", User: "alice", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)},
		{ID: "b1", User: "bob", CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)},
	} {
		if err := s.CreateSession(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"a1": false, "a2": false, "b1": true} {
		if _, err := s.Session(ctx, id); (err == nil) != want {
			t.Errorf("session %s after DeleteUser(alice): %v, want present %v", id, err, want)
		}
	}
}
