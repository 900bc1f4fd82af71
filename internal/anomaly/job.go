package anomaly

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
)

// JobName is the detector's background job.
const JobName = "anomaly"

// Job is the detector as a background job run every interval (on one
// instance at a time). A run interrupted (lost lease, shutdown) has saved
// every batch it finished; the next run continues from the stored cursor.
func (d *Detector) Job(interval time.Duration) jobs.Job {
	return jobs.Job{Name: JobName, Interval: interval, Run: func(ctx context.Context, _ *jobs.Run) (string, error) {
		rep, err := d.Run(ctx)
		b, _ := json.Marshal(rep)
		return string(b), err
	}}
}

// Finding is the JSON form of a finding in the API.
type Finding struct {
	ID         int64  `json:"id"`
	Time       string `json:"time"`
	Kind       string `json:"kind"`
	Identity   string `json:"identity"`
	Repository string `json:"repository,omitempty"`
	ClientIP   string `json:"client_ip,omitempty"`
	Reason     string `json:"reason"`
	EventID    int64  `json:"event_id,omitempty"`
}

// ToFinding converts a stored finding to its JSON form.
func ToFinding(f meta.AnomalyFinding) Finding {
	return Finding{ID: f.ID, Time: f.Time.UTC().Format(time.RFC3339), Kind: f.Kind, Identity: f.Identity,
		Repository: f.Repository, ClientIP: f.ClientIP, Reason: f.Reason, EventID: f.EventID}
}

// List serves GET /api/v1/anomalies: the newest findings matching the
// filters of ParseFilter (identity, kind, since, before, n).
func (d *Detector) List(w http.ResponseWriter, r *http.Request) error {
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		return manage.BadRequest(err.Error())
	}
	found, err := d.Findings(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]Finding, len(found))
	for i, a := range found {
		out[i] = ToFinding(a)
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"anomalies": out})
}
