package registry

import (
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func got(c *cache, repo string, d digest.Digest) *meta.Manifest {
	m, _ := c.manifest(repo, d)
	return m
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newCache(8000, true, true)
	mk := func(i int) *meta.Manifest {
		return &meta.Manifest{Repository: "r", Digest: digest.FromString(fmt.Sprint(i)), Content: make([]byte, 1000)}
	}
	for i := range 8 {
		c.putManifest(mk(i), 0)
	}
	c.manifest("r", mk(0).Digest) // 0 is now the most recent
	c.putManifest(mk(8), 0)       // evicts 1, the least recently used
	if got(c, "r", mk(1).Digest) != nil {
		t.Error("least recently used manifest not evicted")
	}
	if got(c, "r", mk(0).Digest) == nil || got(c, "r", mk(8).Digest) == nil {
		t.Error("recent manifests evicted")
	}
	if c.bytes > c.maxBytes {
		t.Errorf("cache holds %d bytes, limit %d", c.bytes, c.maxBytes)
	}
	big := &meta.Manifest{Repository: "r", Digest: digest.FromString("big"), Content: make([]byte, 5000)}
	c.putManifest(big, 0)
	if got(c, "r", big.Digest) != nil {
		t.Error("a manifest larger than an eighth of the cache was cached")
	}
	c.forgetManifest("r", mk(0).Digest)
	if got(c, "r", mk(0).Digest) != nil {
		t.Error("forgotten manifest still cached")
	}
}

func TestCacheTagGenerations(t *testing.T) {
	c := newCache(1<<20, true, true)
	d1, d2 := digest.FromString("1"), digest.FromString("2")
	_, gen, ok := c.tag("r", "latest")
	if ok {
		t.Fatal("empty cache hit")
	}
	// A read of the store starts (gen), a push moves the tag and forgets,
	// then the read finishes with the old digest: it must not be cached.
	c.forgetTags("r")
	c.putTag("r", "latest", d1, gen)
	if _, _, ok := c.tag("r", "latest"); ok {
		t.Fatal("stale resolution cached across an invalidation")
	}
	_, gen, _ = c.tag("r", "latest")
	c.putTag("r", "latest", d2, gen)
	if d, _, ok := c.tag("r", "latest"); !ok || d != d2 {
		t.Fatalf("tag = %s %v", d, ok)
	}
	c.forgetTags("other")
	_, _, ok = c.tag("r", "latest")
	if !ok {
		t.Fatal("forgetting another repository dropped this one")
	}
	if nc := newCache(1<<20, false, true); func() bool {
		_, g, _ := nc.tag("r", "t")
		nc.putTag("r", "t", d1, g)
		_, _, ok := nc.tag("r", "t")
		return ok
	}() {
		t.Fatal("tags cached with tag caching off")
	}
}

// TestCacheFeed: changes another instance made (meta.CacheFeed) drop what
// they make stale, in every repository; a cache that is not live is not
// used, and a read that began before an invalidation puts nothing.
func TestCacheFeed(t *testing.T) {
	d1, d2 := digest.FromString("1"), digest.FromString("2")
	mk := func(repo string, d digest.Digest) *meta.Manifest {
		return &meta.Manifest{Repository: repo, Digest: d, Content: []byte("{}")}
	}
	c := newCache(1<<20, true, false)
	_, gen := c.manifest("a", d1)
	c.putManifest(mk("a", d1), gen)
	if got(c, "a", d1) != nil {
		t.Fatal("a cache that is not live was used")
	}
	c.setLive(true)
	fill := func() {
		for _, repo := range []string{"a", "b"} {
			for _, d := range []digest.Digest{d1, d2} {
				_, gen := c.manifest(repo, d)
				c.putManifest(mk(repo, d), gen)
			}
			_, gen, _ := c.tag(repo, "latest")
			c.putTag(repo, "latest", d1, gen)
		}
	}
	fill()
	tagged := func(repo string) bool { _, _, ok := c.tag(repo, "latest"); return ok }
	tests := []struct {
		name   string
		change meta.CacheChange
		gone   []string // "repo@1" manifests of d1, "repo:tag" tags
	}{
		{"manifest deleted", meta.CacheChange{Digest: d1}, []string{"a@1", "b@1"}},
		{"tag moved", meta.CacheChange{Repository: "b"}, []string{"b:tag"}},
		{"repository deleted", meta.CacheChange{AllTags: true}, []string{"a:tag", "b:tag"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fill()
			_, stale := c.manifest("a", d2)
			c.apply(tc.change)
			for _, repo := range []string{"a", "b"} {
				if want := !slices.Contains(tc.gone, repo+"@1"); (got(c, repo, d1) != nil) != want {
					t.Errorf("%s@d1 cached: %v, want %v", repo, !want, want)
				}
				if got(c, repo, d2) == nil {
					t.Errorf("%s@d2 dropped", repo)
				}
				if want := !slices.Contains(tc.gone, repo+":tag"); tagged(repo) != want {
					t.Errorf("%s:latest cached: %v, want %v", repo, !want, want)
				}
			}
			c.forgetManifest("a", d2)
			c.putManifest(mk("a", d2), stale)
			if got(c, "a", d2) != nil {
				t.Error("a read from before the change was cached")
			}
		})
	}
	c.setLive(false)
	if got(c, "b", d2) != nil || tagged("b") {
		t.Fatal("the cache was used after losing the feed")
	}
	c.setLive(true)
	if got(c, "b", d2) != nil {
		t.Fatal("entries survived losing the feed")
	}
}
