package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/storage"
)

// JobName is the backup's background job: one backup at a time across
// every instance, scheduled (backup.interval) or on demand.
const JobName = "backup"

// Request is an on-demand backup's parameters through the API: none, the
// configured destination and retention apply.
type Request struct{}

// runRequest is what a run reads: the API's Request, or the command
// line's, which may name a directory instead of the configured destination.
type runRequest struct {
	To   string `json:"to,omitempty"`
	Keep *int   `json:"keep,omitempty"`
}

// CommandRequest is the request of `berth backup --to DIR [--keep N]`
// (keep < 0: the configured retention).
func CommandRequest(to string, keep int) string {
	r := runRequest{To: to}
	if keep >= 0 {
		r.Keep = &keep
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// JobConfig builds the job.
type JobConfig struct {
	Interval time.Duration
	Source   Source
	Options  Options
	// Destination opens where a run writes: dir when not "", else the
	// configured destination.
	Destination func(ctx context.Context, dir string) (storage.Driver, error)
	// Observe, when set, sees each finished run (metrics).
	Observe func(*Report, error)
}

// Job returns the backup job. An interrupted run is not resumed half-way:
// a new snapshot is taken, and the blobs already copied are skipped.
func Job(c JobConfig) jobs.Job {
	return jobs.Job{Name: JobName, Interval: c.Interval, Run: func(ctx context.Context, r *jobs.Run) (string, error) {
		var req runRequest
		if r.Request != "" {
			if err := json.Unmarshal([]byte(r.Request), &req); err != nil {
				return "", fmt.Errorf("backup: bad request: %w", err)
			}
		}
		o := c.Options
		if req.Keep != nil {
			o.Keep = *req.Keep
		}
		if p := progressOf(ctx); p != nil {
			o.Progress = p
		}
		dest, err := c.Destination(ctx, req.To)
		if err != nil {
			out, _ := json.Marshal(Report{Error: err.Error()})
			return string(out), err
		}
		rep, err := Run(ctx, c.Source, dest, o)
		if c.Observe != nil {
			c.Observe(rep, err)
		}
		if err != nil {
			if rep == nil {
				rep = &Report{}
			}
			rep.Error = err.Error()
		}
		out, _ := json.Marshal(rep)
		return string(out), err
	}}
}

// NewAPI serves the backup job's endpoints (POST starts a run, GET
// reports it, GET .../runs lists past runs).
func NewAPI(s *jobs.Scheduler) *jobs.API[Request, Report] {
	return &jobs.API[Request, Report]{Jobs: s, Name: JobName}
}

type progressKey struct{}

// WithProgress makes runs started with ctx in this process (the command
// line's) report their progress to fn.
func WithProgress(ctx context.Context, fn func(Progress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

func progressOf(ctx context.Context) func(Progress) {
	fn, _ := ctx.Value(progressKey{}).(func(Progress))
	return fn
}
