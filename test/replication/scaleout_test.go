package replication_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/testproc"
)

// instance is one Berth of a pair sharing a PostgreSQL database and a
// storage directory, as instances scaled out do.
type instance struct {
	*apptest.Server
	once sync.Once
}

func startInstance(t *testing.T, dsn, blobs string) *instance {
	t.Helper()
	cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Log.Access = false
	cfg.Database.Driver, cfg.Database.Postgres.DSN = "postgres", dsn
	cfg.Storage.Filesystem.Root = blobs
	cfg.Jobs.Poll, cfg.Jobs.Lease = 100*time.Millisecond, 2*time.Second
	cfg.Replication.Interval = 200 * time.Millisecond
	cfg.Replication.TaskLease = 2 * time.Second
	cfg.Replication.RetryBase, cfg.Replication.RetryMax = 200*time.Millisecond, time.Second
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a.StartJobs(context.Background())
	in := &instance{Server: &apptest.Server{Server: httptest.NewServer(a.Handler()), App: a, Config: cfg}}
	t.Cleanup(in.stop)
	return in
}

// stop stops the instance as its death would for its runs: the tasks it
// was copying stay leased to it until their lease runs out.
func (in *instance) stop() {
	in.once.Do(func() {
		in.Server.Server.Close()
		in.App.Close()
	})
}

// TestInstanceDiesDuringRun: the instance running a run stops in the
// middle of it (its task in flight keeps its lease); the other instance
// takes the replication job over, takes the interrupted task once its
// lease runs out, and completes the run.
func TestInstanceDiesDuringRun(t *testing.T) {
	testproc.Need(t, "crane")
	dsn := pgtest.Start(t)
	blobs := t.TempDir()
	a := startInstance(t, dsn, blobs)
	dir := t.TempDir()
	const images = 4
	for i := range images {
		run(t, dir, nil, "crane", "append", "--insecure", "--oci-empty-base", "-t", fmt.Sprintf("%s/app/n%d:v1", host(a.Server), i),
			"-f", tarFile(t, dir, fmt.Sprintf("l%d.tar", i), 256<<10))
	}
	dist := startDistribution(t)
	registerDistribution(t, a.Server, dist)
	// Slow enough to stop in the middle: 64 KiB/s, one image at a time.
	rule := replication.Rule{Name: "slow", Enabled: true, Direction: replication.Push, Registry: "dist",
		Repositories: "app/*", Concurrency: 1, Bandwidth: 64 << 10}
	mustAPI(t, a.Server, http.StatusCreated, "POST", "/api/v1/replication/rules", rule, &rule)
	b := startInstance(t, dsn, blobs)

	var r replication.Run
	mustAPI(t, a.Server, http.StatusAccepted, "POST", "/api/v1/replication/rules/slow/runs", nil, &r)
	// Wait until one image is done and the next is being copied by a.
	deadline := time.Now().Add(time.Minute)
	for {
		mustAPI(t, b.Server, http.StatusOK, "GET", fmt.Sprintf("/api/v1/replication/runs/%d", r.ID), nil, &r)
		if r.Succeeded >= 1 && r.Running == 1 {
			break
		}
		if time.Now().After(deadline) || r.Status != "running" && r.Status != "pending" {
			t.Fatalf("run did not get going: %+v", r)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.stop()
	r = waitRun(t, b.Server, r.ID, 2*time.Minute)
	if r.Status != "succeeded" || r.Succeeded != images {
		t.Fatalf("run after its instance died: %+v, failed %+v", r, failedTasks(t, b.Server, r.ID))
	}
	var out struct{ Tasks []replication.Task }
	mustAPI(t, b.Server, http.StatusOK, "GET", fmt.Sprintf("/api/v1/replication/runs/%d/tasks", r.ID), nil, &out)
	resumed := 0
	for _, k := range out.Tasks {
		if k.Attempt > 1 {
			resumed++
		}
	}
	if resumed == 0 {
		t.Errorf("no task was taken over: %+v", out.Tasks)
	}
	// Every image is at the destination.
	env := []string{"DOCKER_CONFIG=" + filepath.Join(dir, "docker")}
	run(t, dir, env, "crane", "auth", "login", dist.addr, "-u", dist.user, "-p", dist.pass)
	for i := range images {
		want := craneAt(t, dir, nil, "digest", fmt.Sprintf("%s/app/n%d:v1", host(b.Server), i))
		if got := craneAt(t, dir, env, "digest", fmt.Sprintf("%s/app/n%d:v1", dist.addr, i)); got != want {
			t.Errorf("app/n%d at the destination: %s, want %s", i, got, want)
		}
	}
}
