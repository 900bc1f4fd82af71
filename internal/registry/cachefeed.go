package registry

import (
	"context"

	"github.com/berth-registry/berth/internal/meta"
)

// FollowCache keeps the manifest cache right when several instances share
// the metadata store, until ctx ends: the cache is used only while the
// store's change feed (meta.CacheFeed) is followed, and drops what every
// reported change makes stale. It returns at once for the only instance
// of a store (whose cache is always right), without a cache, or when the
// store has no feed (the cache then stays off).
func (s *Service) FollowCache(ctx context.Context) {
	feed, ok := s.meta.(meta.CacheFeed)
	if !ok || s.cache == nil || s.opts.SingleInstance {
		return
	}
	feed.FollowCache(ctx, func(live bool) {
		s.cache.setLive(live)
		if live {
			s.log.Info("manifest cache on: following the metadata store's changes")
		} else if ctx.Err() == nil {
			s.log.Warn("manifest cache off: lost the metadata store's change feed; reading the database until it is back")
		}
	}, s.cache.apply)
}
