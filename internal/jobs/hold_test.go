package jobs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
)

// TestHold: while one instance holds a job, no instance (itself included)
// runs it; Hold waits for a run in flight to end; release lets it run.
func TestHold(t *testing.T) {
	stores(t, func(t *testing.T, open func() meta.Store) {
		ctx := context.Background()
		started, finish := make(chan struct{}, 1), make(chan struct{})
		slow := jobs.Job{Name: "gc", Run: func(ctx context.Context, r *jobs.Run) (string, error) {
			if r.Request == "slow" {
				started <- struct{}{}
				<-finish
			}
			return "done", nil
		}}
		a := jobs.New(open(), opts("a"), slow)
		b := jobs.New(open(), opts("b"), slow)

		// A run in flight on b: a's Hold waits for it.
		ran := make(chan error, 1)
		go func() { _, err := b.RunNow(ctx, "gc", "slow"); ran <- err }()
		<-started
		got := make(chan func(), 1)
		go func() {
			_, release, err := a.Hold(ctx, "gc")
			if err != nil {
				t.Error(err)
				release = func() {}
			}
			got <- release
		}()
		select {
		case <-got:
			t.Fatal("Hold returned while the job was running elsewhere")
		case <-time.After(1500 * time.Millisecond):
		}
		close(finish)
		if err := <-ran; err != nil {
			t.Fatal(err)
		}
		release := <-got

		// Held: neither instance runs it.
		if _, err := b.RunNow(ctx, "gc", ""); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("other instance ran a held job: %v", err)
		}
		if _, err := a.RunNow(ctx, "gc", ""); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("holding instance ran its held job: %v", err)
		}
		// Renewal keeps the hold beyond the lease's length.
		time.Sleep(3 * opts("a").Lease)
		if _, err := b.RunNow(ctx, "gc", ""); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("hold lapsed: %v", err)
		}
		release()
		if out, err := b.RunNow(ctx, "gc", ""); err != nil || out != "done" {
			t.Fatalf("after release: %q, %v", out, err)
		}
	})
}
