package registry

import (
	"container/list"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// cache keeps what manifest reads need in memory: manifests by repository
// and digest (immutable content, bounded by bytes, least recently used out
// first) and, when this process is the only writer of the metadata store,
// tags resolved to digests (dropped on every local tag or manifest change).
// With several instances on one database, tags are not cached: a tag moved
// by another instance would be served stale.
type cache struct {
	mu        sync.Mutex
	maxBytes  int64
	bytes     int64
	lru       *list.List // of *cacheEntry, most recent at the front
	manifests map[string]*list.Element
	tags      map[string]map[string]digest.Digest // repo -> tag -> digest; nil when tags are not cached
	ntags     int
	gen       uint64 // counts tag invalidations
}

type cacheEntry struct {
	key string
	m   *meta.Manifest
}

func newCache(maxBytes int64, cacheTags bool) *cache {
	c := &cache{maxBytes: maxBytes, lru: list.New(), manifests: map[string]*list.Element{}}
	if cacheTags {
		c.tags = map[string]map[string]digest.Digest{}
	}
	return c
}

func manifestKey(repo string, d digest.Digest) string { return repo + "@" + string(d) }

// manifest returns a cached manifest; callers must not modify it.
func (c *cache) manifest(repo string, d digest.Digest) *meta.Manifest {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.manifests[manifestKey(repo, d)]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*cacheEntry).m
	}
	return nil
}

func (c *cache) putManifest(m *meta.Manifest) {
	size := int64(len(m.Content))
	if c == nil || size > c.maxBytes/8 {
		return
	}
	key := manifestKey(m.Repository, m.Digest)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.manifests[key]; ok {
		return
	}
	c.manifests[key] = c.lru.PushFront(&cacheEntry{key: key, m: m})
	c.bytes += size
	for c.bytes > c.maxBytes {
		oldest := c.lru.Back()
		c.removeLocked(oldest)
	}
}

func (c *cache) removeLocked(e *list.Element) {
	ent := e.Value.(*cacheEntry)
	c.lru.Remove(e)
	delete(c.manifests, ent.key)
	c.bytes -= int64(len(ent.m.Content))
}

// tag returns a cached tag resolution, or the generation to pass to
// putTag after reading the store.
func (c *cache) tag(repo, tag string) (digest.Digest, uint64, bool) {
	if c == nil || c.tags == nil {
		return "", 0, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.tags[repo][tag]
	return d, c.gen, ok
}

// putTag records a resolution read from the store, unless a tag changed
// since gen was taken (the read may predate the change).
func (c *cache) putTag(repo, tag string, d digest.Digest, gen uint64) {
	if c == nil || c.tags == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
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
	if e, ok := c.manifests[manifestKey(repo, d)]; ok {
		c.removeLocked(e)
	}
}
