package proxy

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/meta"
)

// EnforceLimits evicts, for every upstream with limits, the images not
// pulled for max_age, then the least recently pulled ones until the cache
// fits cache_size. What was pulled within proxy.in_use_grace stays (a
// client may still be fetching its blobs), even over the size limit.
func (p *Proxy) EnforceLimits(ctx context.Context) {
	for _, u := range p.ups {
		if err := p.enforce(ctx, u); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "proxy: enforcing cache limits", "upstream", u.cfg.Name, "error", err)
		}
	}
}

// evictBatch is how many manifests one query lists for eviction.
const evictBatch = 100

func (p *Proxy) enforce(ctx context.Context, u *upstream) error {
	prefix := u.cfg.Project
	now := p.now()
	protect := now.Add(-p.opts.Config.InUseGrace)
	if age := u.cfg.MaxAge; age > 0 {
		before := now.Add(-age)
		if before.After(protect) {
			before = protect
		}
		for {
			list, err := p.meta.LeastRecentlyPulled(ctx, prefix, before, evictBatch)
			if err != nil {
				return err
			}
			for _, c := range list {
				if err := p.evict(ctx, u, c, "max_age"); err != nil {
					return err
				}
			}
			if len(list) < evictBatch {
				break
			}
		}
	}
	usage, err := p.meta.CacheUsage(ctx, prefix)
	if err != nil {
		return err
	}
	limit := int64(u.cfg.CacheSize)
	for limit > 0 && usage > limit {
		list, err := p.meta.LeastRecentlyPulled(ctx, prefix, protect, evictBatch)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			p.log.WarnContext(ctx, "proxy: cache over its size limit, but everything in it was pulled recently",
				"upstream", u.cfg.Name, "bytes", usage, "limit", limit)
			break
		}
		for _, c := range list {
			if err := p.evict(ctx, u, c, "cache_size"); err != nil {
				return err
			}
			if usage, err = p.meta.CacheUsage(ctx, prefix); err != nil {
				return err
			}
			if usage <= limit {
				break
			}
		}
	}
	u.stats.cacheBytes.Store(usage)
	return nil
}

func (p *Proxy) evict(ctx context.Context, u *upstream, c meta.CachedManifest, why string) error {
	err := p.meta.EvictManifest(ctx, c.Repository, c.Digest)
	if errors.Is(err, meta.ErrNotFound) {
		return nil // evicted by another instance meanwhile
	}
	if err != nil {
		return err
	}
	u.stats.evicted.Add(1)
	p.log.InfoContext(ctx, "proxy: evicted a cached manifest", "upstream", u.cfg.Name, "repo", c.Repository,
		"digest", c.Digest.String(), "last_pulled", c.PulledAt, "reason", why)
	return nil
}
