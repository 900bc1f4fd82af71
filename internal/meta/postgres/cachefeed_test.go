package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestCacheFeed: what one store (instance) changes, another's FollowCache
// reports once it commits: tags created, moved and deleted, manifests
// deleted, a repository deleted.
func TestCacheFeed(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := open(t, dsn), open(t, dsn)
	fctx, cancel := context.WithCancel(ctx)
	changes := make(chan meta.CacheChange, 100)
	live := make(chan bool, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.FollowCache(fctx, func(l bool) { live <- l }, func(c meta.CacheChange) { changes <- c })
	}()
	defer func() { cancel(); <-done }()
	if !<-live {
		t.Fatal("not live")
	}
	d := digest.FromString("config")
	if err := a.PutBlob(ctx, "team/app", meta.Blob{Digest: d, Size: 6}); err != nil {
		t.Fatal(err)
	}
	m1 := &meta.Manifest{Repository: "team/app", Digest: digest.FromString("m1"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte("m1"), Blobs: []digest.Digest{d}}
	m2 := &meta.Manifest{Repository: "team/app", Digest: digest.FromString("m2"), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte("m2"), Blobs: []digest.Digest{d}}
	steps := []struct {
		name string
		do   func() error
		want []meta.CacheChange
	}{
		{"push without a tag", func() error { return a.PutManifest(ctx, m1, nil) }, nil},
		{"tag created", func() error { return a.PutManifest(ctx, m1, []string{"v1"}) }, []meta.CacheChange{{Repository: "team/app"}}},
		{"tag moved", func() error { return a.PutManifest(ctx, m2, []string{"v1"}) }, []meta.CacheChange{{Repository: "team/app"}}},
		{"tag deleted", func() error { return a.DeleteTag(ctx, "team/app", "v1") }, []meta.CacheChange{{Repository: "team/app"}}},
		{"manifest deleted", func() error { return a.DeleteManifest(ctx, "team/app", m1.Digest) }, []meta.CacheChange{{Digest: m1.Digest}}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for _, want := range st.want {
			select {
			case got := <-changes:
				if got != want {
					t.Fatalf("%s: change %+v, want %+v", st.name, got, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: no change reported", st.name)
			}
		}
		select {
		case got := <-changes:
			t.Fatalf("%s: unexpected change %+v", st.name, got)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FuzzParseCacheChange: any payload gives at most one kind of change, and
// the payloads the triggers send read back as what they mean.
func FuzzParseCacheChange(f *testing.F) {
	for _, s := range []string{"msha256:" + strings.Repeat("a", 64), "tteam/app", "t", "m", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, ok := postgres.ParseCacheChange(p)
		kinds := 0
		for _, set := range []bool{c.Digest != "", c.Repository != "", c.AllTags} {
			if set {
				kinds++
			}
		}
		if ok != (kinds == 1) {
			t.Fatalf("%q: %+v, ok %v", p, c, ok)
		}
		switch {
		case c.Digest != "" && "m"+string(c.Digest) != p, c.Repository != "" && "t"+c.Repository != p, c.AllTags && p != "t":
			t.Fatalf("%q read as %+v", p, c)
		}
	})
}
