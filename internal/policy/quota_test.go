package policy

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// TestQuotaCache: quota checks reuse a project's quota within the usage
// cache window; a change through this engine applies at once, a quota
// another instance set (straight to the store) once the window passed, a
// quota it lifted at once (refusals read the quota again), and with no
// window every check reads the store.
func TestQuotaCache(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name   string
		window time.Duration
	}{{"cached", 10 * time.Second}, {"uncached", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(st, Options{UsageCache: tc.window}, slog.New(slog.DiscardHandler))
			clock := time.Now()
			e.now = func() time.Time { return clock }
			project := "p-" + tc.name
			repo := project + "/app"
			admit := func(want bool) {
				t.Helper()
				_, err := e.Admit(ctx, Addition{Repo: repo, Bytes: 100})
				if got := err == nil; got != want {
					t.Fatalf("admit 100 bytes: %v, want admitted=%v", err, want)
				}
				if err != nil && !errors.Is(err, ErrQuotaExceeded) {
					t.Fatal(err)
				}
			}
			admit(true) // no quota (and now cached as none)
			if err := e.SetQuota(ctx, meta.Quota{Project: project, StorageBytes: 10, Repositories: -1, Manifests: -1}); err != nil {
				t.Fatal(err)
			}
			admit(false) // set here: at once
			// Another instance lifts the quota.
			if err := st.DeleteQuota(ctx, project); err != nil {
				t.Fatal(err)
			}
			admit(true)
			// Another instance sets one again.
			if err := st.SetQuota(ctx, meta.Quota{Project: project, StorageBytes: 10, Repositories: -1, Manifests: -1}); err != nil {
				t.Fatal(err)
			}
			admit(tc.window != 0)
			clock = clock.Add(tc.window + time.Second)
			admit(false)
			if err := e.DeleteQuota(ctx, project); err != nil {
				t.Fatal(err)
			}
			admit(true) // deleted here: at once
		})
	}
}
