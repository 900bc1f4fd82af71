package policy

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// TestRunDue: scheduled policies run when their interval has passed since
// their last scheduled run (or since they were set), manual runs do not
// count, and policies without a schedule never run by themselves.
func TestRunDue(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := New(st, Options{}, slog.New(slog.DiscardHandler))
	clock := time.Now()
	e.now = func() time.Time { return clock }
	rt := NewRetention(e, st) // the store deletes as the registry would
	for project, schedule := range map[string]string{"daily": "@daily", "hourly": "@hourly", "manual": ""} {
		if err := e.SetRetentionPolicy(ctx, project, &RetentionPolicy{Rules: []Rule{{Keep: KeepAlways}}, Schedule: schedule}); err != nil {
			t.Fatal(err)
		}
	}
	due := func(want ...string) {
		t.Helper()
		rep, err := rt.RunDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(rep.Ran)
		if rep.Policies != 2 || !slices.Equal(rep.Ran, want) || len(rep.Failed) != 0 {
			t.Fatalf("at %v: ran %v (of %d), want %v", clock.Format(time.TimeOnly), rep.Ran, rep.Policies, want)
		}
	}
	due() // just set
	clock = clock.Add(61 * time.Minute)
	due("hourly")
	rt.Run(ctx, "hourly", RunOptions{Trigger: TriggerAPI}) // manual runs do not move the schedule
	clock = clock.Add(30 * time.Minute)
	due()
	clock = clock.Add(31 * time.Minute)
	due("hourly")
	clock = clock.Add(23 * time.Hour)
	due("daily", "hourly")
	runs, _ := e.RetentionRuns(ctx, "daily", 10)
	if len(runs) != 1 || runs[0].Trigger != TriggerSchedule {
		t.Fatalf("runs of daily: %+v", runs)
	}
	if runs, _ := e.RetentionRuns(ctx, "manual", 10); len(runs) != 0 {
		t.Fatalf("a policy without a schedule ran: %+v", runs)
	}
}

var _ Deleter = meta.Store(nil)
