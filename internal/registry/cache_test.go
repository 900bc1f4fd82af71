package registry

import (
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newCache(8000, true)
	mk := func(i int) *meta.Manifest {
		return &meta.Manifest{Repository: "r", Digest: digest.FromString(fmt.Sprint(i)), Content: make([]byte, 1000)}
	}
	for i := range 8 {
		c.putManifest(mk(i))
	}
	c.manifest("r", mk(0).Digest) // 0 is now the most recent
	c.putManifest(mk(8))          // evicts 1, the least recently used
	if c.manifest("r", mk(1).Digest) != nil {
		t.Error("least recently used manifest not evicted")
	}
	if c.manifest("r", mk(0).Digest) == nil || c.manifest("r", mk(8).Digest) == nil {
		t.Error("recent manifests evicted")
	}
	if c.bytes > c.maxBytes {
		t.Errorf("cache holds %d bytes, limit %d", c.bytes, c.maxBytes)
	}
	big := &meta.Manifest{Repository: "r", Digest: digest.FromString("big"), Content: make([]byte, 5000)}
	c.putManifest(big)
	if c.manifest("r", big.Digest) != nil {
		t.Error("a manifest larger than an eighth of the cache was cached")
	}
	c.forgetManifest("r", mk(0).Digest)
	if c.manifest("r", mk(0).Digest) != nil {
		t.Error("forgotten manifest still cached")
	}
}

func TestCacheTagGenerations(t *testing.T) {
	c := newCache(1<<20, true)
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
	if nc := newCache(1<<20, false); func() bool {
		_, g, _ := nc.tag("r", "t")
		nc.putTag("r", "t", d1, g)
		_, _, ok := nc.tag("r", "t")
		return ok
	}() {
		t.Fatal("tags cached with tag caching off")
	}
}
