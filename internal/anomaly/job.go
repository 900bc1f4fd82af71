package anomaly

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
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
// filters identity (e.g. user:alice, robot:robot$ci, addr:10.1.2.3,
// repo:team/app), kind, since (RFC 3339), before (a finding id, for the
// next page) and n (at most 1000, default 100).
func (d *Detector) List(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := meta.AnomalyFilter{Identity: q.Get("identity"), Kind: q.Get("kind"), Limit: 100}
	if f.Kind != "" && !validKind(f.Kind) {
		return manage.BadRequest("kind: not one of burst, new_network, off_hours, failed_pulls, robot_networks: " + f.Kind)
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return manage.BadRequest("since: not an RFC 3339 time: " + v)
		}
		f.Since = t
	}
	for _, p := range []struct {
		name string
		set  func(int64)
	}{{"before", func(n int64) { f.Before = n }}, {"n", func(n int64) { f.Limit = int(min(n, 1000)) }}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return manage.BadRequest(p.name + ": not a positive integer: " + v)
			}
			p.set(n)
		}
	}
	found, err := d.store.AnomalyFindings(r.Context(), f)
	if err != nil {
		return err
	}
	out := make([]Finding, len(found))
	for i, a := range found {
		out[i] = ToFinding(a)
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"anomalies": out})
}

func validKind(k string) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}
