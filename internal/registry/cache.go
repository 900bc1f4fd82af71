package registry

import (
	"container/list"
	"slices"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// cache keeps what manifest reads need in memory: manifests by digest and
// repository (immutable content, bounded by what they cost in memory,
// least recently used out first) and tags resolved to digests (bounded to
// a quarter of the same budget).
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
	mu          sync.Mutex
	live        bool
	maxBytes    int64
	bytes       int64                               // what the cached manifests cost (entryCost)
	lru         *list.List                          // of *cacheEntry, most recent at the front
	byDigest    map[digest.Digest][]*list.Element   // digest -> one entry per repository holding it
	tags        map[string]map[string]digest.Digest // repo -> tag -> digest; nil when tags are not cached
	tagBytes    int64                               // what the tag resolutions cost (tagCost, repoTagsCost)
	maxTagBytes int64                               // bound of tagBytes: a quarter of maxBytes
	gen         uint64                              // counts invalidations
}

type cacheEntry struct {
	m    *meta.Manifest
	cost int64
}

// Memory a cached manifest takes beyond its bytes of text (the
// meta.Manifest of 192 bytes, its list element and entry, the index slot,
// allocator rounding), a tag resolution (map slot, tag and digest
// strings) and a repository's map of tags. TestCacheMemory measures the
// heap a full cache takes against its budget: counting only the content,
// as the cache did first, let a 16 MiB cache of small manifests take
// 2.4 times that (docs/performance.md, the soak run).
const (
	entryOverhead = 512
	tagCost       = 192
	repoTagsCost  = 512
)

// entryCost is what m costs in memory while cached.
func entryCost(m *meta.Manifest) int64 {
	n := len(m.Content) + len(m.Repository) + len(m.Digest) + len(m.MediaType) + len(m.ArtifactType) + len(m.Subject)
	for k, v := range m.Annotations {
		n += len(k) + len(v) + 64
	}
	return int64(n + entryOverhead)
}

// newCache returns a cache of maxBytes of manifests; live says whether it
// is used from the start (setLive changes it).
func newCache(maxBytes int64, cacheTags, live bool) *cache {
	c := &cache{maxBytes: maxBytes, live: live, lru: list.New(), byDigest: map[digest.Digest][]*list.Element{}}
	if cacheTags {
		c.tags = map[string]map[string]digest.Digest{}
		c.maxTagBytes = max(64*tagCost, maxBytes/4)
	}
	return c
}

// find returns the entry of d in repo; the caller holds c.mu.
func (c *cache) find(repo string, d digest.Digest) *list.Element {
	for _, e := range c.byDigest[d] {
		if e.Value.(*cacheEntry).m.Repository == repo {
			return e
		}
	}
	return nil
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
	if e := c.find(repo, d); e != nil {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).m, c.gen
	}
	return nil, c.gen
}

// putManifest caches a manifest read from the store, unless something was
// invalidated since gen was taken (the read may predate a deletion). The
// cached copy owns its repository and digest strings: the caller's may be
// slices of a whole request path, which caching would keep alive.
func (c *cache) putManifest(m *meta.Manifest, gen uint64) {
	if c == nil {
		return
	}
	cost := entryCost(m)
	if cost > c.maxBytes/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen || c.find(m.Repository, m.Digest) != nil {
		return
	}
	cp := *m
	cp.Repository = strings.Clone(m.Repository)
	cp.Digest = digest.Digest(strings.Clone(string(m.Digest)))
	c.byDigest[cp.Digest] = append(c.byDigest[cp.Digest], c.lru.PushFront(&cacheEntry{m: &cp, cost: cost}))
	c.bytes += cost
	for c.bytes > c.maxBytes {
		c.removeLocked(c.lru.Back())
	}
}

func (c *cache) removeLocked(e *list.Element) {
	ce := e.Value.(*cacheEntry)
	c.lru.Remove(e)
	d := ce.m.Digest
	if rest := slices.DeleteFunc(c.byDigest[d], func(x *list.Element) bool { return x == e }); len(rest) == 0 {
		delete(c.byDigest, d)
	} else {
		c.byDigest[d] = rest
	}
	c.bytes -= ce.cost
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
	if c.tagBytes+tagCost+repoTagsCost > c.maxTagBytes {
		clear(c.tags)
		c.tagBytes = 0
	}
	byTag := c.tags[repo]
	if byTag == nil {
		byTag = map[string]digest.Digest{}
		c.tags[strings.Clone(repo)] = byTag
		c.tagBytes += repoTagsCost
	}
	if _, ok := byTag[tag]; !ok {
		c.tagBytes += tagCost
	}
	byTag[strings.Clone(tag)] = d
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
	c.dropTagsLocked(repo)
}

func (c *cache) dropTagsLocked(repo string) {
	if byTag, ok := c.tags[repo]; ok {
		c.tagBytes -= repoTagsCost + int64(len(byTag))*tagCost
		delete(c.tags, repo)
	}
}

// forgetManifest drops a deleted manifest.
func (c *cache) forgetManifest(repo string, d digest.Digest) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if e := c.find(repo, d); e != nil {
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
	for e := c.lru.Front(); e != nil; {
		next := e.Next()
		if e.Value.(*cacheEntry).m.Repository == repo {
			c.removeLocked(e)
		}
		e = next
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
		for _, e := range slices.Clone(c.byDigest[ch.Digest]) {
			c.removeLocked(e)
		}
	}
	switch {
	case c.tags == nil:
	case ch.AllTags:
		clear(c.tags)
		c.tagBytes = 0
	case ch.Repository != "":
		c.dropTagsLocked(ch.Repository)
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
	clear(c.byDigest)
	c.bytes = 0
	if c.tags != nil {
		clear(c.tags)
		c.tagBytes = 0
	}
}
