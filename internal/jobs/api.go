package jobs

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
)

// API serves one background job's management endpoints (garbage
// collection, scrub): POST asks for a run, with an optional JSON body of
// type Req; GET reports the run in flight and the last finished run's
// report, of type Rep. The run starts on whichever instance takes the
// job's lease, at once when it is free.
type API[Req, Rep any] struct {
	Jobs *Scheduler
	Name string
	// Progress, if set, reads the saved progress of a run in flight: its
	// report so far and the phase it is in ("" if the job has none).
	Progress func(saved string) (current *Rep, phase string)
}

// RunStatus is the answer of GET (and of POST, with Pending set).
type RunStatus[Rep any] struct {
	Running    bool      `json:"running"`
	Pending    bool      `json:"pending"`            // requested, not started yet
	Instance   string    `json:"instance,omitempty"` // the lease holder running it
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Phase      string    `json:"phase,omitempty"`   // of the run in flight
	Current    *Rep      `json:"current,omitempty"` // figures so far of the run in flight
	Last       *Rep      `json:"last,omitempty"`    // the last finished run
}

// Start asks for a run: 202 and the status.
func (a *API[Req, Rep]) Start(w http.ResponseWriter, r *http.Request) error {
	var req Req
	if err := DecodeRequest(r.Body, &req); err != nil {
		return manage.BadRequest(err.Error())
	}
	st, err := a.Request(r.Context(), req)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusAccepted, st)
}

// Request asks for a run with req and returns the status (Pending set):
// what POST does, for the web UI too.
func (a *API[Req, Rep]) Request(ctx context.Context, req Req) (RunStatus[Rep], error) {
	body, _ := json.Marshal(req)
	if err := a.Jobs.Trigger(ctx, a.Name, string(body)); err != nil {
		return RunStatus[Rep]{}, err
	}
	st, err := a.Status(ctx)
	if err != nil {
		return st, err
	}
	st.Pending = true
	return st, nil
}

// Get reports the run in flight and the last finished run.
func (a *API[Req, Rep]) Get(w http.ResponseWriter, r *http.Request) error {
	st, err := a.Status(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

// Status reports the run in flight and the last finished run: what GET
// answers, for the web UI too.
func (a *API[Req, Rep]) Status(ctx context.Context) (RunStatus[Rep], error) {
	js, err := a.Jobs.Status(ctx, a.Name)
	if err != nil {
		return RunStatus[Rep]{}, err
	}
	st := RunStatus[Rep]{Running: js.Running, Pending: js.Pending, Instance: js.Owner, StartedAt: js.StartedAt, FinishedAt: js.FinishedAt}
	if js.Report != "" {
		var last Rep
		if json.Unmarshal([]byte(js.Report), &last) == nil {
			st.Last = &last
		}
	}
	if js.Running && js.Progress != "" && a.Progress != nil {
		st.Current, st.Phase = a.Progress(js.Progress)
	}
	return st, nil
}

// PastRun is a finished run in a job's history.
type PastRun[Rep any] struct {
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at"`
	Report     *Rep      `json:"report,omitempty"` // nil when it cannot be read
}

// History serves GET .../runs: the job's finished runs with their
// reports, newest first (the newest meta.JobRunsKept), as {"runs": [...]}.
func (a *API[Req, Rep]) History(w http.ResponseWriter, r *http.Request) error {
	runs, err := a.Runs(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// Runs returns the job's finished runs, newest first: what History
// answers, for the web UI too.
func (a *API[Req, Rep]) Runs(ctx context.Context) ([]PastRun[Rep], error) {
	stored, err := a.Jobs.Runs(ctx, a.Name)
	if err != nil {
		return nil, err
	}
	out := make([]PastRun[Rep], len(stored))
	for i, s := range stored {
		out[i] = PastRun[Rep]{StartedAt: s.StartedAt, FinishedAt: s.FinishedAt}
		var rep Rep
		if json.Unmarshal([]byte(s.Report), &rep) == nil {
			out[i].Report = &rep
		}
	}
	return out, nil
}

// DecodeRequest reads the optional JSON body of a run request into req:
// an empty body leaves the defaults; unknown fields and trailing data are
// refused.
func DecodeRequest(body io.Reader, req any) error {
	data, err := io.ReadAll(io.LimitReader(body, 1<<16))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: trailing data")
	}
	return nil
}
