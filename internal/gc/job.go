package gc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
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
type Status struct {
	Running    bool      `json:"running"`
	Pending    bool      `json:"pending"`            // requested, not started yet
	Instance   string    `json:"instance,omitempty"` // the lease holder running it
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Phase      string    `json:"phase,omitempty"`   // of the run in flight
	Current    *Report   `json:"current,omitempty"` // counts so far of the run in flight
	Last       *Report   `json:"last,omitempty"`    // the last finished run
}

// API serves garbage collection's management endpoints.
type API struct {
	Jobs *jobs.Scheduler
}

// Start asks for a run (POST /api/v1/gc, optional body {"dry_run": true}):
// 202 and the status. The run starts on whichever instance takes the job's
// lease, at once when it is free.
func (a *API) Start(w http.ResponseWriter, r *http.Request) error {
	req, err := parseRequest(r.Body)
	if err != nil {
		return manage.BadRequest(err.Error())
	}
	body, _ := json.Marshal(req)
	if err := a.Jobs.Trigger(r.Context(), JobName, string(body)); err != nil {
		return err
	}
	st, err := a.status(r.Context())
	if err != nil {
		return err
	}
	st.Pending = true
	return manage.WriteJSON(w, http.StatusAccepted, st)
}

// parseRequest reads an optional JSON body of POST /api/v1/gc (empty
// means defaults; unknown fields are refused).
func parseRequest(body io.Reader) (Request, error) {
	var req Request
	data, err := io.ReadAll(io.LimitReader(body, 1<<16))
	if err != nil {
		return req, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return req, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return req, errors.New("invalid JSON body: trailing data")
	}
	return req, nil
}

// Get reports the run in flight and the last finished run (GET /api/v1/gc).
func (a *API) Get(w http.ResponseWriter, r *http.Request) error {
	st, err := a.status(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

func (a *API) status(ctx context.Context) (Status, error) {
	js, err := a.Jobs.Status(ctx, JobName)
	if err != nil {
		return Status{}, err
	}
	st := Status{Running: js.Running, Pending: js.Pending, Instance: js.Owner, StartedAt: js.StartedAt, FinishedAt: js.FinishedAt}
	if js.Report != "" {
		var last Report
		if json.Unmarshal([]byte(js.Report), &last) == nil {
			st.Last = &last
		}
	}
	if js.Running {
		var p progress
		if js.Progress != "" && json.Unmarshal([]byte(js.Progress), &p) == nil {
			st.Current = &p.Report
			if p.Phase >= 0 && p.Phase < len(phaseNames) {
				st.Phase = phaseNames[p.Phase]
			}
		}
	}
	return st, nil
}
