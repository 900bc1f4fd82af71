package metatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// jobTests are the cases of the JobStore.
var jobTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"JobLease", testJobLease},
	{"JobLeaseRace", testJobLeaseRace},
	{"JobProgressAndReport", testJobProgress},
	{"JobRunsHistory", testJobRuns},
}

func testJobLease(t *testing.T, s meta.Store) {
	if j, err := s.Job(ctx, "gc"); err != nil || j.Name != "gc" || j.Owner != "" || j.Running {
		t.Fatalf("unknown job = %+v, %v", j, err)
	}
	j, err := s.AcquireJob(ctx, "gc", "a", time.Minute)
	if err != nil || j.Owner != "a" || time.Until(j.LeaseUntil) < 50*time.Second {
		t.Fatalf("acquire free job = %+v, %v", j, err)
	}
	if _, err := s.AcquireJob(ctx, "gc", "b", time.Minute); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("acquire job leased by another: %v", err)
	}
	if _, err := s.AcquireJob(ctx, "gc", "a", time.Minute); err != nil {
		t.Fatalf("renew: %v", err)
	}
	// Other jobs are independent.
	if _, err := s.AcquireJob(ctx, "scrub", "b", time.Minute); err != nil {
		t.Fatalf("acquire another job: %v", err)
	}
	if err := s.ReleaseJob(ctx, "gc", "b"); err != nil { // not b's: nothing happens
		t.Fatal(err)
	}
	if j, _ := s.Job(ctx, "gc"); j.Owner != "a" {
		t.Fatalf("release by a non-owner took effect: %+v", j)
	}
	if err := s.ReleaseJob(ctx, "gc", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireJob(ctx, "gc", "b", 50*time.Millisecond); err != nil {
		t.Fatalf("acquire released job: %v", err)
	}
	// An expired lease (its holder died) may be taken.
	time.Sleep(100 * time.Millisecond)
	if j, err := s.AcquireJob(ctx, "gc", "c", time.Minute); err != nil || j.Owner != "c" {
		t.Fatalf("acquire expired lease = %+v, %v", j, err)
	}
	if err := s.SaveJobProgress(ctx, "gc", "b", "x"); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("the old owner saved progress: %v", err)
	}
}

func testJobLeaseRace(t *testing.T, s meta.Store) {
	for round := range 5 {
		name := "race" + string(rune('a'+round))
		var wg sync.WaitGroup
		var mu sync.Mutex
		winners := 0
		start := make(chan struct{})
		for i := range 6 {
			wg.Go(func() {
				<-start
				_, err := s.AcquireJob(ctx, name, string(rune('A'+i)), time.Minute)
				switch {
				case err == nil:
					mu.Lock()
					winners++
					mu.Unlock()
				case !errors.Is(err, meta.ErrConflict):
					t.Errorf("acquire: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if winners != 1 {
			t.Fatalf("%s: %d instances got the lease, want 1", name, winners)
		}
	}
}

func testJobProgress(t *testing.T, s meta.Store) {
	if err := s.StartJob(ctx, "gc", "a", ""); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("start without the lease: %v", err)
	}
	if err := s.RequestJob(ctx, "gc", `{"dry_run":true}`); err != nil {
		t.Fatal(err)
	}
	j, err := s.Job(ctx, "gc")
	if err != nil || j.RequestedAt.IsZero() || j.Request != `{"dry_run":true}` || !j.StartedAt.IsZero() {
		t.Fatalf("requested job = %+v, %v", j, err)
	}
	if _, err := s.AcquireJob(ctx, "gc", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.StartJob(ctx, "gc", "a", "phase 1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveJobProgress(ctx, "gc", "a", "phase 2"); err != nil {
		t.Fatal(err)
	}
	j, _ = s.Job(ctx, "gc")
	if !j.Running || j.Progress != "phase 2" || j.StartedAt.Before(j.RequestedAt) || j.Request != `{"dry_run":true}` {
		t.Fatalf("running job = %+v", j)
	}
	// The instance dies; another takes over and sees where the run was.
	if _, err := s.AcquireJob(ctx, "gc", "b", time.Minute); !errors.Is(err, meta.ErrConflict) {
		t.Fatal("lease taken while held")
	}
	if err := s.ReleaseJob(ctx, "gc", "a"); err != nil { // stands for expiry
		t.Fatal(err)
	}
	j, err = s.AcquireJob(ctx, "gc", "b", time.Minute)
	if err != nil || !j.Running || j.Progress != "phase 2" {
		t.Fatalf("take over = %+v, %v", j, err)
	}
	if err := s.FinishJob(ctx, "gc", "b", "freed 3"); err != nil {
		t.Fatal(err)
	}
	j, _ = s.Job(ctx, "gc")
	if j.Running || j.Progress != "" || j.Report != "freed 3" || j.FinishedAt.Before(j.StartedAt) {
		t.Fatalf("finished job = %+v", j)
	}
}

// testJobRuns: every finished run goes into its job's history, newest
// first, the newest meta.JobRunsKept kept; jobs have their own history;
// a FinishJob refused for want of the lease adds nothing.
func testJobRuns(t *testing.T, s meta.Store) {
	if runs, err := s.JobRuns(ctx, "gc"); err != nil || len(runs) != 0 {
		t.Fatalf("history of a job never run = %v, %v", runs, err)
	}
	run := func(name, report string) {
		t.Helper()
		if _, err := s.AcquireJob(ctx, name, "a", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, name, "a", ""); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishJob(ctx, name, "a", report); err != nil {
			t.Fatal(err)
		}
	}
	total := meta.JobRunsKept + 3
	for i := range total {
		run("gc", fmt.Sprintf("run %d", i))
	}
	run("scrub", "checked")
	if _, err := s.AcquireJob(ctx, "gc", "a", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, "gc", "b", "not b's"); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("finish without the lease: %v", err)
	}
	runs, err := s.JobRuns(ctx, "gc")
	if err != nil || len(runs) != meta.JobRunsKept {
		t.Fatalf("gc history: %d runs, %v; want %d", len(runs), err, meta.JobRunsKept)
	}
	for i, r := range runs {
		if want := fmt.Sprintf("run %d", total-1-i); r.Report != want {
			t.Fatalf("run %d of the history: %q, want %q (newest first)", i, r.Report, want)
		}
		if r.StartedAt.IsZero() || r.FinishedAt.Before(r.StartedAt) || (i > 0 && r.ID >= runs[i-1].ID) {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	j, _ := s.Job(ctx, "gc")
	if j.Report != runs[0].Report || !j.FinishedAt.Equal(runs[0].FinishedAt) || !j.StartedAt.Equal(runs[0].StartedAt) {
		t.Fatalf("job %+v and its newest run %+v differ", j, runs[0])
	}
	if runs, err := s.JobRuns(ctx, "scrub"); err != nil || len(runs) != 1 || runs[0].Report != "checked" {
		t.Fatalf("scrub history = %+v, %v", runs, err)
	}
}
