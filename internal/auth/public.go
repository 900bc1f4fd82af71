package auth

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// publicTTL is how long Public trusts what it read of a project: a project
// made private on another instance may still be answered as public for
// that long (on this instance, SetPublic forgets at once).
const publicTTL = time.Second

// Public reports whether anyone, without credentials, may pull repo: the
// responses of such a repository may be kept by shared caches (a proxy or
// CDN in front), those of others only by the client's own. A request that
// CheckRepo already let pull repo anonymously proves it without a read;
// any other looks the project up (remembered for publicTTL).
func (s *Service) Public(r *http.Request, repo string) bool {
	if id := identityOf(r); id.anonPull != "" && id.anonPull == repo {
		return true
	}
	project := ProjectOf(repo)
	now := s.now()
	if public, ok := s.public.get(project, now); ok {
		return public
	}
	p, err := s.store.Project(r.Context(), project)
	if err != nil {
		if !errors.Is(err, meta.ErrNotFound) {
			s.log.ErrorContext(r.Context(), "reading a project's visibility", "repo", repo, "error", err)
		}
		return false // when in doubt, private
	}
	s.public.put(project, p.Public, now)
	return p.Public
}

// publicCache remembers projects' visibility briefly.
type publicCache struct {
	mu      sync.Mutex
	entries map[string]publicEntry
}

type publicEntry struct {
	public bool
	at     time.Time
}

func (c *publicCache) get(project string, now time.Time) (bool, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[project]
	if !ok || now.Sub(e.at) >= publicTTL || now.Before(e.at) {
		return false, false
	}
	return e.public, true
}

func (c *publicCache) put(project string, public bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= 10000 {
		c.entries = map[string]publicEntry{}
	}
	c.entries[project] = publicEntry{public, now}
}

func (c *publicCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = nil
}
