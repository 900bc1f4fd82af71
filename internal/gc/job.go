package gc

import (
	"context"
	"encoding/json"
	"time"

	"github.com/berth-registry/berth/internal/jobs"
)

// JobName is garbage collection's background job.
const JobName = "gc"

// Request holds the parameters of an on-demand run.
type Request struct {
	DryRun bool `json:"dry_run"`
}

// Job is garbage collection as a background job, scheduled every interval
// (0: on demand only). observe, if set, gets every finished run's report
// (for metrics).
func (c *Collector) Job(interval time.Duration, observe func(Report, error)) jobs.Job {
	return jobs.Job{Name: JobName, Interval: interval, Run: func(ctx context.Context, r *jobs.Run) (string, error) {
		var req Request
		if r.Request != "" {
			json.Unmarshal([]byte(r.Request), &req) // validated by the API
		}
		rep, err := c.Run(ctx, req.DryRun, r.Progress, r.Save)
		if observe != nil && ctx.Err() == nil {
			observe(rep, err)
		}
		b, _ := json.Marshal(rep)
		return string(b), err
	}}
}

// phaseNames name the phases in status reports.
var phaseNames = []string{"tombstones", "uploads", "upload files", "manifests", "links", "blobs", "orphan files", "done"}

// Status is the answer of GET /api/v1/gc.
type Status = jobs.RunStatus[Report]

// NewAPI returns garbage collection's management endpoints (POST and GET
// /api/v1/gc, body {"dry_run": true} optional).
func NewAPI(s *jobs.Scheduler) *jobs.API[Request, Report] {
	return &jobs.API[Request, Report]{Jobs: s, Name: JobName, Progress: func(saved string) (*Report, string) {
		var p progress
		if json.Unmarshal([]byte(saved), &p) != nil {
			return nil, ""
		}
		phase := ""
		if p.Phase >= 0 && p.Phase < len(phaseNames) {
			phase = phaseNames[p.Phase]
		}
		return &p.Report, phase
	}}
}
