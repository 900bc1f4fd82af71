package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/berth-registry/berth/internal/config"
)

// htpasswdLine makes a line as `htpasswd -B` does ($2y$ hashes).
func htpasswdLine(t *testing.T, user, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 5)
	mustOK(t, err)
	return user + ":$2y$" + string(h[4:]) + "\n"
}

func TestHtpasswd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	content := "# registry users\n" + htpasswdLine(t, "alice", "alice-pw") +
		"old:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n" + // not bcrypt: ignored
		"\n" + htpasswdLine(t, "bob", "bob-pw")
	mustOK(t, os.WriteFile(path, []byte(content), 0o600))
	store := openStore(t)
	s := newService(t, store, &clock{t: time.Now()}, func(c *config.Auth) {
		c.Mode, c.Htpasswd.Path = "htpasswd", path
	})
	if subj, err := s.Login(ctx, "alice", "alice-pw", "a"); err != nil || subj.Source != "htpasswd" {
		t.Fatalf("alice: %+v, %v", subj, err)
	}
	for _, bad := range [][2]string{{"alice", "bob-pw"}, {"old", "password"}, {"carol", "x"}} {
		if _, err := s.Login(ctx, bad[0], bad[1], "a"); err == nil {
			t.Errorf("%s logged in", bad[0])
		}
	}
	// The file changes: carol is added, alice's password changes.
	mustOK(t, os.WriteFile(path, []byte(htpasswdLine(t, "alice", "new-alice-pw")+htpasswdLine(t, "carol", "carol-pw")), 0o600))
	h := s.backends[0].(*htpasswd)
	h.mu.Lock()
	h.checked = time.Time{} // skip the once-a-second throttle
	h.modTime = time.Time{}
	h.mu.Unlock()
	s.Invalidate()
	if _, err := s.Login(ctx, "carol", "carol-pw", "a"); err != nil {
		t.Fatalf("carol after reload: %v", err)
	}
	if _, err := s.Login(ctx, "alice", "alice-pw", "a"); err == nil {
		t.Fatal("alice's old password after reload")
	}
}

func TestParseHtpasswd(t *testing.T) {
	users, skipped := parseHtpasswd([]byte("a:$2y$05$" + strings.Repeat("x", 53) + "\n:nouser\nb\nc:$apr1$xyz\n  # comment\n"))
	if len(users) != 1 || users["a"] == "" || len(skipped) != 3 {
		t.Fatalf("users %v skipped %v", users, skipped)
	}
}

func FuzzParseHtpasswd(f *testing.F) {
	f.Add([]byte("alice:$2y$05$abcdefghijklmnopqrstuuQp8F0f0y4k2b3c4d5e6f7g8h9i0j1k2\n"))
	f.Add([]byte("#c\n\n:x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		users, _ := parseHtpasswd(data)
		for u, h := range users {
			if u == "" || strings.ContainsAny(u, ":\n") || !isBcrypt(h) {
				t.Fatalf("bad entry %q:%q", u, h)
			}
		}
	})
}
