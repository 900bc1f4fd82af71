package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// stores runs a test against SQLite and PostgreSQL; open returns another
// handle on the same database (another "instance").
func stores(t *testing.T, fn func(t *testing.T, open func() meta.Store)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "berth.db")
		var once sync.Once
		var s meta.Store
		fn(t, func() meta.Store {
			// SQLite has one writer process: instances share one store.
			once.Do(func() {
				var err error
				if s, err = sqlite.Open(context.Background(), path); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
			})
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Start(t)
		fn(t, func() meta.Store {
			s, err := postgres.Open(context.Background(), dsn, postgres.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

func opts(owner string) jobs.Options {
	return jobs.Options{Owner: owner, Lease: 600 * time.Millisecond, Poll: 20 * time.Millisecond}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A scheduled job runs every interval on one of two instances, never on
// both at once, and its report is saved.
func TestScheduledOnOneInstance(t *testing.T) {
	stores(t, func(t *testing.T, open func() meta.Store) {
		var runs, inFlight, overlap atomic.Int32
		job := jobs.Job{Name: "tick", Interval: 50 * time.Millisecond, Run: func(ctx context.Context, r *jobs.Run) (string, error) {
			if inFlight.Add(1) > 1 {
				overlap.Add(1)
			}
			time.Sleep(30 * time.Millisecond)
			inFlight.Add(-1)
			return "run " + strconv.Itoa(int(runs.Add(1))), nil
		}}
		a := jobs.New(open(), opts("a"), job)
		b := jobs.New(open(), opts("b"), job)
		ctx := context.Background()
		a.Start(ctx)
		b.Start(ctx)
		waitFor(t, "five runs", func() bool { return runs.Load() >= 5 })
		a.Stop()
		b.Stop()
		if overlap.Load() > 0 {
			t.Fatalf("the job ran on both instances at once %d times", overlap.Load())
		}
		st, err := a.Status(ctx, "tick")
		if err != nil || st.Running || st.Report == "" || st.FinishedAt.IsZero() {
			t.Fatalf("status = %+v, %v", st, err)
		}
	})
}

// An on-demand run gets its request; RunNow refuses while another
// instance holds the lease.
func TestTriggerAndRunNow(t *testing.T) {
	stores(t, func(t *testing.T, open func() meta.Store) {
		ctx := context.Background()
		got := make(chan string, 4)
		release := make(chan struct{})
		job := jobs.Job{Name: "gc", Run: func(ctx context.Context, r *jobs.Run) (string, error) {
			got <- r.Request
			select {
			case <-release:
			case <-ctx.Done():
			}
			return "done " + r.Request, nil
		}}
		a := jobs.New(open(), opts("a"), job)
		a.Start(ctx)
		defer a.Stop()
		if err := a.Trigger(ctx, "gc", `{"dry_run":true}`); err != nil {
			t.Fatal(err)
		}
		if req := <-got; req != `{"dry_run":true}` {
			t.Fatalf("request = %q", req)
		}
		st, _ := a.Status(ctx, "gc")
		if !st.Running || st.Owner != "a" || st.Request != `{"dry_run":true}` {
			t.Fatalf("status while running = %+v", st)
		}
		b := jobs.New(open(), opts("b"), job)
		if _, err := b.RunNow(ctx, "gc", ""); !errors.Is(err, jobs.ErrBusy) {
			t.Fatalf("RunNow while running elsewhere: %v", err)
		}
		if err := a.Trigger(ctx, "nope", ""); !errors.Is(err, jobs.ErrUnknownJob) {
			t.Fatalf("Trigger of an unknown job: %v", err)
		}
		close(release)
		waitFor(t, "the report", func() bool {
			st, _ := a.Status(ctx, "gc")
			return !st.Running && st.Report == `done {"dry_run":true}`
		})
		a.Stop()
		report, err := b.RunNow(ctx, "gc", "now")
		if err != nil || report != "done now" {
			t.Fatalf("RunNow = %q, %v", report, err)
		}
		// Both runs are in the history, newest first, whichever instance ran them.
		runs, err := a.Runs(ctx, "gc")
		if err != nil || len(runs) != 2 || runs[0].Report != "done now" || runs[1].Report != `done {"dry_run":true}` {
			t.Fatalf("Runs = %+v, %v", runs, err)
		}
		if _, err := a.Runs(ctx, "nope"); !errors.Is(err, jobs.ErrUnknownJob) {
			t.Fatalf("Runs of an unknown job: %v", err)
		}
	})
}

// faulty is a store whose database becomes unreachable (every call fails)
// once cut is set: an instance cut off, which for the others is dead.
type faulty struct {
	meta.Store
	cut atomic.Bool
}

var errCut = errors.New("connection refused")

func (f *faulty) Job(ctx context.Context, name string) (meta.Job, error) {
	if f.cut.Load() {
		return meta.Job{}, errCut
	}
	return f.Store.Job(ctx, name)
}

func (f *faulty) AcquireJob(ctx context.Context, name, owner string, ttl time.Duration) (meta.Job, error) {
	if f.cut.Load() {
		return meta.Job{}, errCut
	}
	return f.Store.AcquireJob(ctx, name, owner, ttl)
}

func (f *faulty) ReleaseJob(ctx context.Context, name, owner string) error {
	if f.cut.Load() {
		return errCut
	}
	return f.Store.ReleaseJob(ctx, name, owner)
}

func (f *faulty) SaveJobProgress(ctx context.Context, name, owner, progress string) error {
	if f.cut.Load() {
		return errCut
	}
	return f.Store.SaveJobProgress(ctx, name, owner, progress)
}

func (f *faulty) FinishJob(ctx context.Context, name, owner, report string) error {
	if f.cut.Load() {
		return errCut
	}
	return f.Store.FinishJob(ctx, name, owner, report)
}

// The instance running a job is cut off from the database mid-run: its
// lease expires, its run is cancelled, and the other instance resumes the
// run from the saved progress with the same request and finishes it.
func TestTakeoverResumesProgress(t *testing.T) {
	stores(t, func(t *testing.T, open func() meta.Store) {
		ctx := context.Background()
		type step struct {
			owner    string
			resumed  bool
			request  string
			progress string
		}
		steps := make(chan step, 16)
		var cancelled atomic.Bool
		fa := &faulty{Store: open()}
		mk := func(owner string) jobs.Job {
			return jobs.Job{Name: "gc", Run: func(ctx context.Context, r *jobs.Run) (string, error) {
				steps <- step{owner, r.Resumed, r.Request, r.Progress}
				n, _ := strconv.Atoi(r.Progress)
				for ; n < 6; n++ {
					if owner == "a" && n == 3 {
						fa.cut.Store(true) // the database is gone for a
						<-ctx.Done()
						cancelled.Store(true)
						return "", ctx.Err()
					}
					if err := r.Save(ctx, strconv.Itoa(n+1)); err != nil {
						return "", err
					}
				}
				return "finished by " + owner, nil
			}}
		}
		a := jobs.New(fa, opts("a"), mk("a"))
		b := jobs.New(open(), opts("b"), mk("b"))
		a.Start(ctx)
		defer a.Stop()
		if err := a.Trigger(ctx, "gc", "req"); err != nil {
			t.Fatal(err)
		}
		if s := <-steps; s != (step{"a", false, "req", ""}) {
			t.Fatalf("first run: %+v", s)
		}
		waitFor(t, "a cut off", fa.cut.Load)
		b.Start(ctx)
		defer b.Stop()
		if s := <-steps; s != (step{"b", true, "req", "3"}) {
			t.Fatalf("resumed run: %+v", s)
		}
		waitFor(t, "a's run cancelled", cancelled.Load)
		waitFor(t, "b's report", func() bool {
			st, _ := b.Status(ctx, "gc")
			return !st.Running && st.Report == "finished by b"
		})
	})
}

// Stopping an instance leaves its run to be resumed: another instance
// resumes it at once (the lease was released).
func TestStopLeavesRunToResume(t *testing.T) {
	stores(t, func(t *testing.T, open func() meta.Store) {
		ctx := context.Background()
		started := make(chan bool, 4)
		job := jobs.Job{Name: "scrub", Run: func(ctx context.Context, r *jobs.Run) (string, error) {
			if !r.Resumed {
				if err := r.Save(ctx, "half"); err != nil {
					return "", err
				}
				started <- false
				<-ctx.Done()
				return "", ctx.Err()
			}
			started <- true
			return "resumed at " + r.Progress, nil
		}}
		a := jobs.New(open(), opts("a"), job)
		a.Start(ctx)
		a.Trigger(ctx, "scrub", "")
		if <-started {
			t.Fatal("first run resumed")
		}
		a.Stop()
		b := jobs.New(open(), opts("b"), job)
		b.Start(ctx)
		defer b.Stop()
		if !<-started {
			t.Fatal("second run did not resume")
		}
		waitFor(t, "the report", func() bool {
			st, _ := b.Status(ctx, "scrub")
			return st.Report == "resumed at half"
		})
	})
}
