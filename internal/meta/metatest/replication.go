package metatest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// replicationTests are the cases of the ReplicationStore.
var replicationTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"ReplicationConfigs", testReplicationConfigs},
	{"ReplicationRunLifecycle", testReplicationRun},
	{"ReplicationTaskLeases", testReplicationLeases},
	{"ReplicationStopRun", testReplicationStop},
}

func testReplicationConfigs(t *testing.T, s meta.Store) {
	if _, err := s.ReplicationConfig(ctx, meta.ReplicationKindRegistry, "b"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("missing config: %v", err)
	}
	for _, c := range []meta.ReplicationConfig{
		{Kind: meta.ReplicationKindRegistry, Name: "b", Spec: `{"url":"1"}`},
		{Kind: meta.ReplicationKindRegistry, Name: "a", Spec: `{}`},
		{Kind: meta.ReplicationKindRule, Name: "a", Spec: `{"rule":1}`},
		{Kind: meta.ReplicationKindRegistry, Name: "b", Spec: `{"url":"2"}`}, // replaces
	} {
		if err := s.PutReplicationConfig(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	c, err := s.ReplicationConfig(ctx, meta.ReplicationKindRegistry, "b")
	if err != nil || c.Spec != `{"url":"2"}` || c.UpdatedAt.IsZero() {
		t.Fatalf("config b = %+v, %v", c, err)
	}
	list, err := s.ReplicationConfigs(ctx, meta.ReplicationKindRegistry)
	if err != nil || len(list) != 2 || list[0].Name != "a" || list[1].Name != "b" {
		t.Fatalf("registries = %+v, %v", list, err)
	}
	if err := s.DeleteReplicationConfig(ctx, meta.ReplicationKindRegistry, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteReplicationConfig(ctx, meta.ReplicationKindRegistry, "a"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if list, _ := s.ReplicationConfigs(ctx, meta.ReplicationKindRule); len(list) != 1 || list[0].Spec != `{"rule":1}` {
		t.Fatalf("rules = %+v", list)
	}
}

func tasks(refs ...string) []meta.ReplicationTask {
	out := []meta.ReplicationTask{}
	for _, r := range refs {
		out = append(out, meta.ReplicationTask{Kind: "copy", Source: "src/app", Dest: "dst/app", Ref: r, Digest: dg(r).String()})
	}
	return out
}

func testReplicationRun(t *testing.T, s meta.Store) {
	id, err := s.CreateReplicationRun(ctx, meta.ReplicationRun{Rule: "r1", Trigger: "manual", Request: "{}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.ReplicationRun(ctx, id)
	if err != nil || r.Status != meta.RunPending || r.Rule != "r1" || r.Trigger != "manual" || r.CreatedAt.IsZero() {
		t.Fatalf("new run = %+v, %v", r, err)
	}
	// A pending run has no tasks to claim.
	if got, err := s.ClaimReplicationTasks(ctx, id, "a", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim before planning = %v, %v", got, err)
	}
	if err := s.PlanReplicationRun(ctx, id, tasks("v1", "v2", "v3")); err != nil {
		t.Fatal(err)
	}
	if err := s.PlanReplicationRun(ctx, id, tasks("v4")); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("planning twice: %v", err)
	}
	got, err := s.ClaimReplicationTasks(ctx, id, "a", time.Minute, 2)
	if err != nil || len(got) != 2 || got[0].Ref != "v1" || got[0].Attempt != 1 || got[0].Owner != "a" || got[0].Status != meta.TaskRunning {
		t.Fatalf("claim = %+v, %v", got, err)
	}
	if err := s.FinishReplicationTask(ctx, got[0].ID, "a", meta.TaskSucceeded, "", 100, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// A failed attempt to retry later is not claimed before its time.
	if err := s.FinishReplicationTask(ctx, got[1].ID, "a", meta.TaskPending, "boom", 0, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishReplicationTask(ctx, got[1].ID, "a", meta.TaskSucceeded, "", 0, time.Time{}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("finish a task not leased: %v", err)
	}
	next, err := s.ClaimReplicationTasks(ctx, id, "a", time.Minute, 10)
	if err != nil || len(next) != 1 || next[0].Ref != "v3" {
		t.Fatalf("claim after retry scheduled = %+v, %v", next, err)
	}
	if err := s.FinishReplicationTask(ctx, next[0].ID, "a", meta.TaskSkipped, "exists", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	r, err = s.ReplicationRun(ctx, id)
	want := meta.ReplicationCounts{Pending: 1, Succeeded: 1, Skipped: 1, Bytes: 100}
	if err != nil || r.Status != meta.RunRunning || r.Counts != want {
		t.Fatalf("run = %+v, %v; want counts %+v", r, err, want)
	}
	failed, err := s.ReplicationTasks(ctx, id, meta.TaskPending, 0, 10)
	if err != nil || len(failed) != 1 || failed[0].Error != "boom" || failed[0].Attempt != 1 || failed[0].NextAt.Before(time.Now()) {
		t.Fatalf("pending tasks = %+v, %v", failed, err)
	}
	if all, _ := s.ReplicationTasks(ctx, id, "", failed[0].ID-1, 10); len(all) != 2 {
		t.Fatalf("tasks after id = %+v", all)
	}
	// An event run is created running, with its tasks.
	id2, err := s.CreateReplicationRun(ctx, meta.ReplicationRun{Rule: "r2", Trigger: "event"}, tasks("x"))
	if err != nil {
		t.Fatal(err)
	}
	active, err := s.ActiveReplicationRuns(ctx)
	if err != nil || len(active) != 2 || active[0].ID != id || active[1].Status != meta.RunRunning || active[1].Counts.Pending != 1 {
		t.Fatalf("active = %+v, %v", active, err)
	}
	if err := s.EndReplicationRun(ctx, id, meta.RunFailed, "1 task failed"); err != nil {
		t.Fatal(err)
	}
	if err := s.EndReplicationRun(ctx, id, meta.RunSucceeded, ""); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("ending twice: %v", err)
	}
	if err := s.EndReplicationRun(ctx, 99999, meta.RunSucceeded, ""); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("ending unknown: %v", err)
	}
	runs, err := s.ReplicationRuns(ctx, "", 10)
	if err != nil || len(runs) != 2 || runs[0].ID != id2 || runs[1].Status != meta.RunFailed || runs[1].FinishedAt.IsZero() {
		t.Fatalf("runs = %+v, %v", runs, err)
	}
	if runs, _ := s.ReplicationRuns(ctx, "r1", 10); len(runs) != 1 || runs[0].ID != id {
		t.Fatalf("runs of r1 = %+v", runs)
	}
	if last, err := s.LastFullReplicationRun(ctx, "r1"); err != nil || last.ID != id {
		t.Fatalf("last full run of r1 = %+v, %v", last, err)
	}
	if _, err := s.LastFullReplicationRun(ctx, "r2"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("last full run of r2 (events only): %v", err)
	}
	if _, err := s.ReplicationRun(ctx, 99999); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("unknown run: %v", err)
	}
}

func testReplicationLeases(t *testing.T, s meta.Store) {
	id, err := s.CreateReplicationRun(ctx, meta.ReplicationRun{Rule: "r", Trigger: "manual"}, tasks("a", "b", "c", "d", "e", "f"))
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent claimers never take the same task.
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for _, owner := range []string{"x", "y", "z"} {
		wg.Go(func() {
			got, err := s.ClaimReplicationTasks(ctx, id, owner, time.Minute, 2)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range got {
				if prev, ok := seen[k.ID]; ok {
					t.Errorf("task %d claimed by %s and %s", k.ID, prev, owner)
				}
				seen[k.ID] = owner
			}
		})
	}
	wg.Wait()
	if len(seen) != 6 {
		t.Fatalf("claimed %d tasks, want 6", len(seen))
	}
	// Leases held are not taken; y's and z's run out (their instances
	// died, as a renewal to a moment from now stands for) and another
	// instance takes their tasks over.
	if got, err := s.ClaimReplicationTasks(ctx, id, "w", time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claim while every task is leased = %+v, %v", got, err)
	}
	for _, o := range []string{"x", "y", "z"} {
		ttl := time.Millisecond
		if o == "x" {
			ttl = time.Minute
		}
		if err := s.RenewReplicationTasks(ctx, o, ttl); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	got, err := s.ClaimReplicationTasks(ctx, id, "w", time.Minute, 10)
	if err != nil || len(got) != 4 {
		t.Fatalf("take over with x renewed = %+v, %v", got, err)
	}
	for _, k := range got {
		if seen[k.ID] == "x" {
			t.Fatalf("took x's renewed task %d", k.ID)
		}
	}
	if err := s.RenewReplicationTasks(ctx, "x", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	got, err = s.ClaimReplicationTasks(ctx, id, "v", time.Minute, 10)
	if err != nil || len(got) != 2 || got[0].Attempt != 2 || got[0].Owner != "v" {
		t.Fatalf("take over = %+v, %v", got, err)
	}
	if err := s.FinishReplicationTask(ctx, got[0].ID, seen[got[0].ID], meta.TaskSucceeded, "", 0, time.Time{}); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("the old owner finishing: %v", err)
	}
}

func testReplicationStop(t *testing.T, s meta.Store) {
	id, err := s.CreateReplicationRun(ctx, meta.ReplicationRun{Rule: "r", Trigger: "manual"}, tasks("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.ClaimReplicationTasks(ctx, id, "x", time.Minute, 1)
	if err := s.FinishReplicationTask(ctx, got[0].ID, "x", meta.TaskSucceeded, "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.ClaimReplicationTasks(ctx, id, "x", time.Minute, 1)
	if err := s.EndReplicationRun(ctx, id, meta.RunStopped, "by admin"); err != nil {
		t.Fatal(err)
	}
	r, err := s.ReplicationRun(ctx, id)
	if err != nil || r.Status != meta.RunStopped || r.Error != "by admin" || r.Counts != (meta.ReplicationCounts{Succeeded: 1, Skipped: 2}) {
		t.Fatalf("stopped run = %+v, %v", r, err)
	}
	if more, err := s.ClaimReplicationTasks(ctx, id, "x", time.Minute, 10); err != nil || len(more) != 0 {
		t.Fatalf("claim in a stopped run = %+v, %v", more, err)
	}
}
