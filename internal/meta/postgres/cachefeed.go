package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// The cache feed: migration 0019's triggers NOTIFY channel berth_cache of
// every manifest deletion and tag change; each instance LISTENs on a
// connection of its own (outside the pool).
const (
	cacheChannel = "berth_cache"
	// cacheKeepalive: after this long without a notification the listening
	// connection is pinged, and given up on if it does not answer within
	// cachePingTimeout. A silently broken connection (a notification lost
	// with it) is thus noticed within their sum.
	cacheKeepalive   = 5 * time.Second
	cachePingTimeout = 3 * time.Second
	// CacheFeedBound is the longest a change can go unseen by an instance
	// whose listening connection broke without a word.
	CacheFeedBound = cacheKeepalive + cachePingTimeout
)

var _ meta.CacheFeed = (*Store)(nil)

// FollowCache implements meta.CacheFeed with LISTEN/NOTIFY.
func (s *Store) FollowCache(ctx context.Context, live func(bool), fn func(meta.CacheChange)) {
	wait := 100 * time.Millisecond
	for ctx.Err() == nil {
		started := time.Now()
		s.followCache(ctx, live, fn)
		live(false)
		if time.Since(started) > time.Minute {
			wait = 100 * time.Millisecond // it worked for a while: retry soon
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// followCache listens on one connection until it fails or ctx ends.
func (s *Store) followCache(ctx context.Context, live func(bool), fn func(meta.CacheChange)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+cacheChannel); err != nil {
		return err
	}
	live(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, cacheKeepalive)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if c, ok := parseCacheChange(n.Payload); ok {
				fn(c)
			}
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			pctx, cancel := context.WithTimeout(ctx, cachePingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// parseCacheChange reads a berth_cache payload: "m<digest>", "t<repo>" or
// "t".
func parseCacheChange(p string) (meta.CacheChange, bool) {
	switch {
	case strings.HasPrefix(p, "m") && len(p) > 1:
		return meta.CacheChange{Digest: digest.Digest(p[1:])}, true
	case p == "t":
		return meta.CacheChange{AllTags: true}, true
	case strings.HasPrefix(p, "t"):
		return meta.CacheChange{Repository: p[1:]}, true
	}
	return meta.CacheChange{}, false
}
