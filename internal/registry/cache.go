package registry

import (
	"container/list"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// cache keeps what manifest reads need in memory: manifests by digest and
// repository (immutable content, bounded by bytes, least recently used
// out first) and tags resolved to digests.
//
// Entries are dropped on every local change, and on every change another
// instance makes when several share the metadata store (PostgreSQL): the
// store's change feed (meta.CacheFeed, LISTEN/NOTIFY) reports them. The
// cache is only used while it is live: always for the only instance of a
// store (SQLite); with several, while the feed is followed (a feed that
// may have missed a change empties the cache and turns it off until it is
// back). Every invalidation bumps a generation: a read of the store that
// began before it does not put what it read.
type cache struct {
	mu        sync.Mutex
	live      bool
	maxBytes  int64
	bytes     int64
	lru       *list.List                                 // of *cacheEntry, most recent at the front
	manifests map[digest.Digest]map[string]*list.Element // digest -> repository -> entry
	tags      map[string]map[string]digest.Digest        // repo -> tag -> digest; nil when tags are not cached
	ntags     int
	gen       uint64 // counts invalidations
}

type cacheEntry struct {
	m *meta.Manifest
}

// newCache returns a cache of maxBytes of manifests; live says whether it
// is used from the start (setLive changes it).
func newCache(maxBytes int64, cacheTags, live bool) *cache {
	c := &cache{maxBytes: maxBytes, live: live, lru: list.New(), manifests: map[digest.Digest]map[string]*list.Element{}}
	if cacheTags {
		c.tags = map[string]map[string]digest.Digest{}
	}
	return c
}

// manifest returns a cached manifest (callers must not modify it), or the
// generation to pass to putManifest after reading the store.
func (c *cache) manifest(repo string, d digest.Digest) (*meta.Manifest, uint64) {
	if c == nil {
		return nil, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return nil, c.gen
	}
	if e, ok := c.manifests[d][repo]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).m, c.gen
	}
	return nil, c.gen
}

// putManifest caches a manifest read from the store, unless something was
// invalidated since gen was taken (the read may predate a deletion).
func (c *cache) putManifest(m *meta.Manifest, gen uint64) {
	size := int64(len(m.Content))
	if c == nil || size > c.maxBytes/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if _, ok := c.manifests[m.Digest][m.Repository]; ok {
		return
	}
	byRepo := c.manifests[m.Digest]
	if byRepo == nil {
		byRepo = map[string]*list.Element{}
		c.manifests[m.Digest] = byRepo
	}
	byRepo[m.Repository] = c.lru.PushFront(&cacheEntry{m: m})
	c.bytes += size
	for c.bytes > c.maxBytes {
		c.removeLocked(c.lru.Back())
	}
}

func (c *cache) removeLocked(e *list.Element) {
	m := e.Value.(*cacheEntry).m
	c.lru.Remove(e)
	if byRepo := c.manifests[m.Digest]; len(byRepo) <= 1 {
		delete(c.manifests, m.Digest)
	} else {
		delete(byRepo, m.Repository)
	}
	c.bytes -= int64(len(m.Content))
}

// tag returns a cached tag resolution, or the generation to pass to
// putTag after reading the store.
func (c *cache) tag(repo, tag string) (digest.Digest, uint64, bool) {
	if c == nil || c.tags == nil {
		return "", 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		return "", c.gen, false
	}
	d, ok := c.tags[repo][tag]
	return d, c.gen, ok
}

// putTag records a resolution read from the store, unless something was
// invalidated since gen was taken (the read may predate the change).
func (c *cache) putTag(repo, tag string, d digest.Digest, gen uint64) {
	if c == nil || c.tags == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if c.ntags >= 100000 {
		clear(c.tags)
		c.ntags = 0
	}
	if c.tags[repo] == nil {
		c.tags[repo] = map[string]digest.Digest{}
	}
	c.tags[repo][tag] = d
	c.ntags++
}

// forgetTags drops the tag resolutions of a repository (after a push or a
// delete changed its tags).
func (c *cache) forgetTags(repo string) {
	if c == nil || c.tags == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.ntags -= len(c.tags[repo])
	delete(c.tags, repo)
}

// forgetManifest drops a deleted manifest.
func (c *cache) forgetManifest(repo string, d digest.Digest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e, ok := c.manifests[d][repo]; ok {
		c.removeLocked(e)
	}
}

// forgetRepository drops everything cached about a repository.
func (c *cache) forgetRepository(repo string) {
	if c == nil {
		return
	}
	c.forgetTags(repo)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, byRepo := range c.manifests {
		if e, ok := byRepo[repo]; ok {
			c.removeLocked(e)
		}
	}
}

// apply drops what a change reported by the store's feed makes stale.
func (c *cache) apply(ch meta.CacheChange) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if ch.Digest != "" {
		for _, e := range c.manifests[ch.Digest] {
			c.removeLocked(e)
		}
	}
	switch {
	case c.tags == nil:
	case ch.AllTags:
		clear(c.tags)
		c.ntags = 0
	case ch.Repository != "":
		c.ntags -= len(c.tags[ch.Repository])
		delete(c.tags, ch.Repository)
	}
}

// setLive empties the cache and turns it on or off.
func (c *cache) setLive(live bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.live = live
	c.lru.Init()
	clear(c.manifests)
	c.bytes = 0
	if c.tags != nil {
		clear(c.tags)
		c.ntags = 0
	}
}
