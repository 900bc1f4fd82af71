package metatest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-registry/berth/internal/meta"
)

// rateTests are the rate-limit count cases of the suite.
var rateTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"RateCounts", testRateCounts},
}

func testRateCounts(t *testing.T, s meta.Store) {
	h := time.Unix(1_700_000_000, 0).Truncate(time.Hour)
	got, err := s.AddRateCounts(ctx, h, map[string]int64{"u:alice": 3, "p:team": 0})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"u:alice": 3, "p:team": 0}, got); d != "" {
		t.Fatalf("first add (-want +got):\n%s", d)
	}
	// Two instances adding at once: nothing is lost.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.AddRateCounts(ctx, h, map[string]int64{"u:alice": 2, "p:team": 1}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err = s.AddRateCounts(ctx, h, map[string]int64{"u:alice": 0, "p:team": 0, "a:192.0.2.1": 1})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]int64{"u:alice": 11, "p:team": 4, "a:192.0.2.1": 1}, got); d != "" {
		t.Fatalf("after concurrent adds (-want +got):\n%s", d)
	}
	// The next hour starts from zero, and the old window goes.
	got, err = s.AddRateCounts(ctx, h.Add(time.Hour), map[string]int64{"u:alice": 1})
	if err != nil || got["u:alice"] != 1 {
		t.Fatalf("next window: %v, %v", got, err)
	}
	got, err = s.AddRateCounts(ctx, h, map[string]int64{"p:team": 0})
	if err != nil || got["p:team"] != 0 {
		t.Fatalf("an old window was kept: %v, %v", got, err)
	}
}
