package gc_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc/gctest"
)

// stressGrace is the grace period of the stress test: tiny, so that GC
// races pushes all the time.
const stressGrace = 500 * time.Millisecond

// TestStress never loses an image: writers push images that share layers
// (some mounting them from another repository) while a deleter deletes
// tags and GC runs in a loop with a tiny grace period, and readers pull
// images that are never deleted. Afterwards every image whose push
// succeeded and that was not deleted pulls in full with its digests
// checked, and after a last GC the storage holds exactly the blobs of
// those images.
func TestStress(t *testing.T) {
	backends(t, func(c *config.Config) { c.GC.GracePeriod = stressGrace }, func(t *testing.T, s *apptest.Server) {
		stress(t, s, 5*time.Second)
	})
}

func stress(t *testing.T, s *apptest.Server, d time.Duration) {
	c := newClient(s)
	shared := make([][]byte, 6)
	for i := range shared {
		shared[i] = fmt.Appendf(nil, "shared layer %d %s", i, t.Name())
	}
	var (
		mu      sync.Mutex
		live    = map[string]*gctest.Image{} // repo:tag -> image whose push succeeded and was not deleted
		deleted = map[string]bool{}
		pushes  int
		failed  int
		gcRuns  int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Protected images, pushed first and never deleted, pulled all along.
	var protected []*gctest.Image
	for i := range 3 {
		img := gctest.NewImage(fmt.Sprintf("base/p%d", i), "stable", shared[i], fmt.Appendf(nil, "protected %d", i))
		if err := c.Push(img, ""); err != nil {
			t.Fatal(err)
		}
		protected = append(protected, img)
	}
	for w := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				repo := fmt.Sprintf("team%d/app%d", w, n%3)
				img := gctest.NewImage(repo, fmt.Sprintf("v%d", n),
					shared[rng.IntN(len(shared))], shared[rng.IntN(len(shared))], fmt.Appendf(nil, "own %d %d", w, n))
				from := ""
				if n%2 == 1 {
					from = fmt.Sprintf("base/p%d", rng.IntN(3))
				}
				err := c.Push(img, from)
				mu.Lock()
				pushes++
				if err == nil {
					live[img.Repo+":"+img.Tag] = img
				} else {
					failed++ // MANIFEST_BLOB_UNKNOWN after GC took a link, or a 503: allowed
					if failed <= 3 {
						t.Logf("push failed (allowed): %v", err)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Go(func() { // deleter
		rng := rand.New(rand.NewPCG(99, 1))
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			mu.Lock()
			var keys []string
			for k := range live {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if len(keys) < 4 {
				mu.Unlock()
				continue
			}
			k := keys[rng.IntN(len(keys))]
			img := live[k]
			delete(live, k)
			deleted[k] = true
			mu.Unlock()
			if err := c.DeleteTag(img.Repo, img.Tag); err != nil {
				t.Errorf("delete %s: %v", k, err)
			}
		}
	})
	wg.Go(func() { // GC in a loop
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.App.GC().Run(ctx, false, "", nil); err != nil {
				t.Errorf("gc: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			gcRuns++
			mu.Unlock()
		}
	})
	for _, img := range protected { // readers
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.Pull(img); err != nil {
					t.Errorf("pull of a protected image during GC: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(d)
	close(stop)
	wg.Wait()
	t.Logf("%d pushes (%d failed), %d tags deleted, %d live images, %d GC runs", pushes, failed, len(deleted), len(live), gcRuns)
	if gcRuns < 3 || pushes-failed < 8 || len(deleted) < 2 {
		t.Fatalf("too little happened: %d GC runs, %d successful pushes", gcRuns, pushes-failed)
	}

	// Every image whose push succeeded and that was not deleted pulls in full.
	want := map[digest.Digest]bool{}
	for _, img := range append(protected, mapValues(live)...) {
		if err := c.Pull(img); err != nil {
			t.Errorf("image lost: %v", err)
		}
		for d := range img.Blobs {
			want[d] = true
		}
	}
	// After the grace period, a last GC leaves exactly their blobs.
	time.Sleep(2 * stressGrace)
	if _, err := s.App.GC().Run(ctx, false, "", nil); err != nil {
		t.Fatal(err)
	}
	got := storedBlobs(t, s)
	var extra []digest.Digest
	for _, d := range got {
		if !want[d] {
			extra = append(extra, d)
		}
	}
	if len(extra) > 0 || len(got) != len(want) {
		t.Fatalf("storage holds %d blobs, %d referenced; unreferenced: %v", len(got), len(want), extra)
	}
	for _, img := range append(protected, mapValues(live)...) {
		if err := c.Pull(img); err != nil {
			t.Errorf("image lost by the last GC: %v", err)
		}
	}
}

func mapValues(m map[string]*gctest.Image) []*gctest.Image {
	var out []*gctest.Image
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
