package scan

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// summaryCache keeps the gate's view of recent manifests' results (found
// or not), so a pull of a hot manifest does not query the database every
// time. Entries live for a TTL: a result stored by another instance shows
// within it; this instance's own results replace their entry at once.
type summaryCache struct {
	ttl time.Duration
	max int

	mu sync.RWMutex
	m  map[digest.Digest]*gateSummary
}

// gateSummary is a stored result as the gate evaluates it.
type gateSummary struct {
	found    bool
	status   string
	findings []gateFinding
	expires  time.Time
}

func newSummaryCache(ttl time.Duration, max int) *summaryCache {
	return &summaryCache{ttl: ttl, max: max, m: map[digest.Digest]*gateSummary{}}
}

func (c *summaryCache) get(d digest.Digest, now time.Time) (*gateSummary, bool) {
	c.mu.RLock()
	e, ok := c.m[d]
	c.mu.RUnlock()
	if !ok || now.After(e.expires) {
		return nil, false
	}
	return e, true
}

func (c *summaryCache) put(d digest.Digest, e *gateSummary) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m) // crude but bounded; a miss costs one lookup
	}
	c.m[d] = e
	c.mu.Unlock()
}

// summary returns the gate's view of a manifest's result: from the
// cache, or with one indexed lookup.
func (s *Service) summary(ctx context.Context, d digest.Digest) (*gateSummary, error) {
	now := time.Now()
	if e, ok := s.summaries.get(d, now); ok {
		return e, nil
	}
	r, err := s.store.GetScanResult(ctx, d, false)
	e := &gateSummary{expires: now.Add(s.summaries.ttl)}
	switch {
	case errors.Is(err, meta.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		e.found, e.status = true, r.Status
		if err := json.Unmarshal(r.Summary, &e.findings); err != nil {
			e.status = StatusFailed // unreadable: treated as a failed scan
		}
	}
	s.summaries.put(d, e)
	return e, nil
}

// stored records a result this instance just stored in the cache.
func (s *Service) stored(r meta.ScanResult) {
	e := &gateSummary{found: true, status: r.Status, expires: time.Now().Add(s.summaries.ttl)}
	if json.Unmarshal(r.Summary, &e.findings) != nil {
		e.status = StatusFailed
	}
	s.summaries.put(r.Digest, e)
}
