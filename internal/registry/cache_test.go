package registry

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
)

func got(c *cache, repo string, d digest.Digest) *meta.Manifest {
	m, _ := c.manifest(repo, d)
	return m
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	mk := func(i int) *meta.Manifest {
		return &meta.Manifest{Repository: "r", Digest: digest.FromString(fmt.Sprint(i)), Content: make([]byte, 1000)}
	}
	c := newCache(8*entryCost(mk(0)), true, true)
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
	big := &meta.Manifest{Repository: "r", Digest: digest.FromString("big"), Content: make([]byte, 2*c.maxBytes/8)}
	c.putManifest(big, 0)
	if got(c, "r", big.Digest) != nil {
		t.Error("a manifest larger than an eighth of the cache was cached")
	}
	c.forgetManifest("r", mk(0).Digest)
	if got(c, "r", mk(0).Digest) != nil {
		t.Error("forgotten manifest still cached")
	}
	// The same digest in two repositories: two entries, dropped apart.
	_, gen := c.manifest("s", mk(8).Digest)
	c.putManifest(&meta.Manifest{Repository: "s", Digest: mk(8).Digest, Content: make([]byte, 1000)}, gen)
	c.forgetRepository("r")
	if got(c, "r", mk(8).Digest) != nil || got(c, "s", mk(8).Digest) == nil {
		t.Error("forgetting a repository dropped the wrong entries")
	}
}

// TestCacheMemory: a full cache takes about its budget of heap, not a
// multiple of it. Manifests are built as a pull produces them: the
// repository and digest slices of the request path, every string and the
// content allocated apart. Before entries were costed with their overhead,
// a cache of small manifests held 2.37 times its budget (docs/performance.md).
func TestCacheMemory(t *testing.T) {
	const maxBytes = 4 << 20
	mk := func(i int) *meta.Manifest {
		path := fmt.Sprintf("/v2/soak/c%02d/manifests/sha256:%064x", i%32, i)
		return &meta.Manifest{Repository: path[4:12], Digest: digest.Digest(path[len(path)-71:]),
			MediaType: strings.Clone(ocispec.MediaTypeImageManifest), ArtifactType: strings.Clone(ocispec.MediaTypeImageConfig),
			Content: make([]byte, 560), CreatedAt: time.Now()}
	}
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	c := newCache(maxBytes, true, true)
	before := heap()
	for i := range 3 * maxBytes / 560 {
		c.putManifest(mk(i), 0)
	}
	used := heap() - before
	if used > maxBytes*11/10 || used < maxBytes/2 {
		t.Errorf("a full cache of %d manifests takes %.1f MiB of heap for a budget of %.1f MiB", c.lru.Len(), float64(used)/(1<<20), float64(maxBytes)/(1<<20))
	}
	// Tag resolutions: a quarter of the budget at most, with many tags in
	// a few repositories or one tag in each of many.
	for _, repos := range []int{32, 1 << 20} {
		c.setLive(true)
		before = heap()
		for i := range int(2 * c.maxTagBytes / tagCost) {
			path := fmt.Sprintf("/v2/soak/c%07d/manifests/v%d", i%repos, i)
			c.putTag(path[4:17], path[strings.LastIndexByte(path, '/')+1:], digest.Digest(fmt.Sprintf("sha256:%064x", i)), 0)
		}
		if used := heap() - before; c.tagBytes > c.maxTagBytes || used > c.maxTagBytes*11/10 {
			t.Errorf("tags of %d repositories: %.1f MiB of heap (counted %.1f) for a budget of %.1f MiB", repos,
				float64(used)/(1<<20), float64(c.tagBytes)/(1<<20), float64(c.maxTagBytes)/(1<<20))
		}
	}
	runtime.KeepAlive(c)
}

// BenchmarkCacheHit is the cache's part of a manifest GET.
func BenchmarkCacheHit(b *testing.B) {
	c := newCache(16<<20, true, true)
	var ds []digest.Digest
	var repos []string
	for i := range 10 {
		repos = append(repos, fmt.Sprintf("library/r%d", i))
	}
	for i := range 1000 {
		m := &meta.Manifest{Repository: repos[i%10], Digest: digest.FromString(fmt.Sprint(i)), Content: make([]byte, 600)}
		c.putManifest(m, 0)
		ds = append(ds, m.Digest)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if m, _ := c.manifest(repos[i%10], ds[i%1000]); m == nil {
				b.Fatal("miss")
			}
			i++
		}
	})
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
