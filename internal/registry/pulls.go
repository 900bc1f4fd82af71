package registry

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// pullKey marks a context whose GetManifest is a download (GET, not
// HEAD): the repository's pull count and the manifest's last pull time
// are what the UI's lists and sorts show.
type pullKey struct{}

// CountPull marks ctx so that GetManifest counts a pull.
func CountPull(ctx context.Context) context.Context { return context.WithValue(ctx, pullKey{}, true) }

func countsPull(ctx context.Context) bool { v, _ := ctx.Value(pullKey{}).(bool); return v }

// pullCounter gathers pulls in memory; RunPullStats writes them in
// batches, so a pull costs no database write of its own.
type pullCounter struct {
	mu    sync.Mutex
	pulls map[pullID]*meta.Pull
}

type pullID struct {
	repo string
	dgst digest.Digest
}

// maxPendingPulls bounds the memory of pulls not yet written.
const maxPendingPulls = 100000

func (c *pullCounter) add(repo string, d digest.Digest, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pulls == nil {
		c.pulls = map[pullID]*meta.Pull{}
	}
	k := pullID{repo, d}
	if p, ok := c.pulls[k]; ok {
		p.Count++
		p.At = at
		return
	}
	if len(c.pulls) >= maxPendingPulls {
		return // statistics, not accounting: dropped until the next flush
	}
	c.pulls[k] = &meta.Pull{Repository: repo, Digest: d, Count: 1, At: at}
}

// take returns the gathered pulls in a fixed order and forgets them.
func (c *pullCounter) take() []meta.Pull {
	c.mu.Lock()
	m := c.pulls
	c.pulls = nil
	c.mu.Unlock()
	out := make([]meta.Pull, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b meta.Pull) int {
		return cmp.Or(cmp.Compare(a.Repository, b.Repository), cmp.Compare(a.Digest, b.Digest))
	})
	return out
}

func (s *Service) countPull(ctx context.Context, repo string, d digest.Digest) {
	if countsPull(ctx) {
		s.pulls.add(repo, d, time.Now())
	}
}

// FlushPulls writes the pulls gathered so far.
func (s *Service) FlushPulls(ctx context.Context) error {
	pulls := s.pulls.take()
	if len(pulls) == 0 {
		return nil
	}
	return s.meta.RecordPulls(ctx, pulls)
}

// RunPullStats writes gathered pulls every interval until ctx ends, then
// once more.
func (s *Service) RunPullStats(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.FlushPulls(ctx); err != nil {
				s.log.WarnContext(ctx, "recording pull statistics", "error", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.FlushPulls(fctx); err != nil {
				s.log.Warn("recording pull statistics", "error", err)
			}
			cancel()
			return
		}
	}
}
