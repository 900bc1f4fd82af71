package metatest

import (
	"errors"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// testProxyCache: a cached manifest is stored before its blobs, its tags
// carry when they were checked, pulls are recorded.
func testProxyCache(t *testing.T, s meta.Store) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	layer := dg("not fetched yet")
	m := manifest("hub/library/nginx", "image-1", layer)
	if err := s.PutCachedManifest(ctx, m, []string{"latest", "1.27"}, t0); err != nil {
		t.Fatalf("PutCachedManifest without its blobs: %v", err)
	}
	got, err := s.Manifest(ctx, "hub/library/nginx", m.Digest)
	if err != nil || string(got.Content) != "image-1" {
		t.Fatalf("Manifest = %v, %v", got, err)
	}
	d, checked, err := s.CachedTag(ctx, "hub/library/nginx", "latest")
	if err != nil || d != m.Digest || !checked.Equal(t0) {
		t.Fatalf("CachedTag = %s, %v, %v; want %s, %v", d, checked, err, m.Digest, t0)
	}
	if _, _, err := s.CachedTag(ctx, "hub/library/nginx", "nope"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("CachedTag of a missing tag: %v", err)
	}
	t1 := t0.Add(time.Minute)
	if err := s.MarkTagChecked(ctx, "hub/library/nginx", "latest", t1); err != nil {
		t.Fatal(err)
	}
	if _, checked, _ := s.CachedTag(ctx, "hub/library/nginx", "latest"); !checked.Equal(t1) {
		t.Fatalf("checked = %v after MarkTagChecked(%v)", checked, t1)
	}
	if err := s.MarkTagChecked(ctx, "hub/library/nginx", "nope", t1); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("MarkTagChecked of a missing tag: %v", err)
	}
	// A tag pushed the ordinary way has never been checked.
	plain := manifest("hub/library/nginx", "image-plain")
	if err := s.PutManifest(ctx, plain, []string{"plain"}); err != nil {
		t.Fatal(err)
	}
	if _, checked, err := s.CachedTag(ctx, "hub/library/nginx", "plain"); err != nil || !checked.IsZero() {
		t.Fatalf("CachedTag of a pushed tag = %v, %v", checked, err)
	}
	// The tag moves: the new manifest replaces it, the old one stays.
	m2 := manifest("hub/library/nginx", "image-2", layer)
	if err := s.PutCachedManifest(ctx, m2, []string{"latest"}, t1); err != nil {
		t.Fatal(err)
	}
	if d, _, _ := s.CachedTag(ctx, "hub/library/nginx", "latest"); d != m2.Digest {
		t.Fatalf("tag not moved: %s", d)
	}
	if d, _, _ := s.CachedTag(ctx, "hub/library/nginx", "1.27"); d != m.Digest {
		t.Fatalf("other tag moved: %s", d)
	}
	// Storing a cached manifest again is fine.
	if err := s.PutCachedManifest(ctx, m, nil, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPulled(ctx, "hub/library/nginx", m.Digest, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkPulled(ctx, "hub/library/nginx", dg("unknown"), t1); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("MarkPulled of a missing manifest: %v", err)
	}
	// Once the blob arrives it is readable like a pushed one.
	if err := s.PutBlob(ctx, "hub/library/nginx", meta.Blob{Digest: layer, Size: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blob(ctx, "hub/library/nginx", layer); err != nil {
		t.Fatal(err)
	}
}

// testProxyEviction: usage per prefix, least recently pulled first,
// eviction unlinks what nothing else in the repository references.
func testProxyEviction(t *testing.T, s meta.Store) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	shared := mustPutBlob(t, s, "hub/a", "shared layer!") // 13 bytes
	onlyA1 := mustPutBlob(t, s, "hub/a", "a1 layer")      // 8
	mustPutBlob(t, s, "hub/b", "shared layer!")
	mustPutBlob(t, s, "hubx/c", "not in hub/")                         // 11, another prefix
	mustPutBlob(t, s, "other", "unrelated")                            // outside
	a1 := manifest("hub/a", "a1", shared, onlyA1)                      // 2 bytes
	a2 := manifest("hub/a", "a22", shared)                             // 3
	b1 := manifest("hub/b", "b1", shared, dg("b layer never fetched")) // 2
	for i, m := range []*meta.Manifest{a1, a2, b1} {
		if err := s.PutCachedManifest(ctx, m, []string{"t"}, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	usage := func(prefix string) int64 {
		t.Helper()
		n, err := s.CacheUsage(ctx, prefix)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Distinct blobs once (13 + 8) plus manifests (2 + 3 + 2).
	if n := usage("hub"); n != 28 {
		t.Fatalf("CacheUsage(hub) = %d, want 28", n)
	}
	if n := usage("nothing"); n != 0 {
		t.Fatalf("CacheUsage(nothing) = %d", n)
	}
	// a1 is pulled again later: a2 becomes the least recently pulled.
	if err := s.MarkPulled(ctx, "hub/a", a1.Digest, t0.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	lru, err := s.LeastRecentlyPulled(ctx, "hub", t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, c := range lru {
		order = append(order, c.Repository+"@"+string(c.Digest))
	}
	want := []string{"hub/a@" + string(a2.Digest), "hub/b@" + string(b1.Digest), "hub/a@" + string(a1.Digest)}
	if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
		t.Fatalf("LeastRecentlyPulled = %v, want %v", order, want)
	}
	if !lru[0].PulledAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("PulledAt = %v", lru[0].PulledAt)
	}
	if lru, _ := s.LeastRecentlyPulled(ctx, "hub", t0.Add(90*time.Second), 10); len(lru) != 1 {
		t.Fatalf("before filter: %v", lru)
	}
	if lru, _ := s.LeastRecentlyPulled(ctx, "hub", t0.Add(time.Hour), 1); len(lru) != 1 {
		t.Fatalf("limit: %v", lru)
	}

	// Evicting a2 keeps the shared layer (a1 references it).
	if err := s.EvictManifest(ctx, "hub/a", a2.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Manifest(ctx, "hub/a", a2.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("evicted manifest still there: %v", err)
	}
	if _, err := s.Blob(ctx, "hub/a", shared); err != nil {
		t.Fatalf("shared layer unlinked: %v", err)
	}
	// Evicting a1 unlinks both its layers from hub/a, and the repository
	// goes; hub/b keeps its link.
	if err := s.EvictManifest(ctx, "hub/a", a1.Digest); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{string(shared), string(onlyA1)} {
		if _, err := s.Blob(ctx, "hub/a", digest.Digest(d)); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("blob %s still linked: %v", d, err)
		}
	}
	if ok, err := s.RepositoryExists(ctx, "hub/a"); err != nil || ok {
		t.Fatalf("emptied repository still exists: %v %v", ok, err)
	}
	if _, err := s.Blob(ctx, "hub/b", shared); err != nil {
		t.Fatalf("hub/b lost its link: %v", err)
	}
	if n := usage("hub"); n != 15 {
		t.Fatalf("CacheUsage(hub) after eviction = %d, want 15", n)
	}
	if err := s.EvictManifest(ctx, "hub/a", a1.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("evicting twice: %v", err)
	}
	// The blob bytes' records stay for garbage collection.
	if _, err := s.AnyBlob(ctx, onlyA1); err != nil {
		t.Fatal(err)
	}
}
