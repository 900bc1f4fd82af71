package policy

import (
	"context"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// shownUsage remembers the usage of projects as lists show it. It is
// separate from the quota checks' cache, whose entries count pending
// additions and are dropped on deletes.
type shownUsage struct {
	mu sync.Mutex
	m  map[string]shownEntry
}

type shownEntry struct {
	at time.Time
	u  meta.Usage
}

// maxShown bounds the remembered projects.
const maxShown = 10000

// RecentUsage returns a project's usage computed at most maxAge ago: the
// exact usage query reads every repository of the project (about 100 ms
// for 10,000 repositories on SQLite), too slow to run on every page view.
func (e *Engine) RecentUsage(ctx context.Context, project string, maxAge time.Duration) (meta.Usage, error) {
	now := e.now()
	e.shown.mu.Lock()
	c, ok := e.shown.m[project]
	e.shown.mu.Unlock()
	if ok && now.Sub(c.at) < maxAge {
		return c.u, nil
	}
	u, err := e.ProjectUsage(ctx, project)
	if err != nil {
		return u, err
	}
	e.shown.mu.Lock()
	defer e.shown.mu.Unlock()
	if e.shown.m == nil || len(e.shown.m) >= maxShown {
		e.shown.m = map[string]shownEntry{}
	}
	e.shown.m[project] = shownEntry{at: now, u: u}
	return u, nil
}
