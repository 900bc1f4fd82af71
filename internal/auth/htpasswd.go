package auth

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// htpasswd is the htpasswd source of users: an Apache htpasswd file with
// bcrypt hashes (htpasswd -B), as registry:2 reads it. The file is checked
// for changes at most once a second and re-read when its size or
// modification time changed; a file that cannot be read keeps the last
// good contents.
type htpasswd struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	checked time.Time
	modTime time.Time
	size    int64
	users   map[string]string
}

func newHtpasswd(path string, log *slog.Logger) (*htpasswd, error) {
	h := &htpasswd{path: path, log: log}
	if err := h.reload(true); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *htpasswd) Name() string { return "htpasswd" }

// reload re-reads the file if it changed (or always, with force).
func (h *htpasswd) reload(force bool) error {
	fi, err := os.Stat(h.path)
	if err != nil {
		return fmt.Errorf("auth.htpasswd: %w", err)
	}
	if !force && fi.ModTime().Equal(h.modTime) && fi.Size() == h.size {
		return nil
	}
	data, err := os.ReadFile(h.path)
	if err != nil {
		return fmt.Errorf("auth.htpasswd: %w", err)
	}
	users, skipped := parseHtpasswd(data)
	for _, line := range skipped {
		h.log.Warn("htpasswd: line ignored: only bcrypt hashes (htpasswd -B) are accepted", "path", h.path, "line", line)
	}
	h.users, h.modTime, h.size = users, fi.ModTime(), fi.Size()
	if !force {
		h.log.Info("htpasswd: file reloaded", "path", h.path, "users", len(users))
	}
	return nil
}

// hash returns a user's hash, re-reading the file first if it changed.
func (h *htpasswd) hash(user string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now := time.Now(); now.Sub(h.checked) >= time.Second {
		h.checked = now
		if err := h.reload(false); err != nil {
			h.log.Error("htpasswd: keeping the last good contents", "error", err)
		}
	}
	hash, ok := h.users[user]
	return hash, ok
}

// parseHtpasswd reads user:hash lines; blank lines and # comments are
// skipped, and so are lines without a bcrypt hash (their line numbers are
// returned).
func parseHtpasswd(data []byte) (users map[string]string, skipped []int) {
	users = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" || !isBcrypt(hash) {
			skipped = append(skipped, n)
			continue
		}
		users[user] = hash
	}
	return users, skipped
}

func isBcrypt(h string) bool {
	return len(h) == 60 && (strings.HasPrefix(h, "$2y$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$"))
}

// Authenticate implements backend.
func (h *htpasswd) Authenticate(ctx context.Context, user, pw string) (*Subject, error) {
	hash, ok := h.hash(user)
	if !ok {
		if err := dummyCheck(ctx, pw, 5); err != nil { // htpasswd -B's default cost
			return nil, err
		}
		return nil, errUnknownUser
	}
	if ok, err := checkBcrypt(ctx, hash, pw); err != nil || !ok {
		return nil, cmp.Or(err, errBadPassword)
	}
	return &Subject{Name: user, Kind: KindUser, Source: "htpasswd", fingerprint: fingerprint(hash)}, nil
}

// Lookup implements backend.
func (h *htpasswd) Lookup(ctx context.Context, user string) (*Subject, error) {
	hash, ok := h.hash(user)
	if !ok {
		return nil, errUnknownUser
	}
	return &Subject{Name: user, Kind: KindUser, Source: "htpasswd", fingerprint: fingerprint(hash)}, nil
}
