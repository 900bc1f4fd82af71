package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/oci"
)

// UpstreamStatus is one upstream in GET /api/v1/proxy/upstreams.
type UpstreamStatus struct {
	Name        string   `json:"name"`
	URL         string   `json:"url"`
	Project     string   `json:"project"`
	Namespaces  []string `json:"namespaces"`
	Mirror      bool     `json:"mirror"`
	ManifestTTL string   `json:"manifest_ttl"`
	CacheSize   int64    `json:"cache_size"`
	MaxAge      string   `json:"max_age"`
	// CacheBytes is what the cache holds now.
	CacheBytes int64 `json:"cache_bytes"`
	// Counters since this instance started.
	Pulls          int64 `json:"pulls"`
	ManifestHits   int64 `json:"manifest_hits"`
	ManifestMisses int64 `json:"manifest_misses"`
	StaleServed    int64 `json:"stale_served"`
	BlobHits       int64 `json:"blob_hits"`
	BlobMisses     int64 `json:"blob_misses"`
	BlobFetches    int64 `json:"blob_fetches"`
	BytesFetched   int64 `json:"bytes_fetched"`
	Errors         int64 `json:"errors"`
	Evicted        int64 `json:"evicted_manifests"`
	// ManifestHitRate and BlobHitRate are the share of pulls served from
	// the cache (stale manifests count as hits), 0 to 1; 0 before any.
	ManifestHitRate float64    `json:"manifest_hit_rate"`
	BlobHitRate     float64    `json:"blob_hit_rate"`
	LastError       *LastError `json:"last_error,omitempty"`
}

// LastError is the latest upstream failure.
type LastError struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// Upstreams reports every upstream's configuration (without credentials),
// cache usage and counters.
func (p *Proxy) Upstreams(r *http.Request) ([]UpstreamStatus, error) {
	out := make([]UpstreamStatus, 0, len(p.ups))
	for _, u := range p.ups {
		usage, err := p.meta.CacheUsage(r.Context(), u.cfg.Project)
		if err != nil {
			return nil, err
		}
		s := &u.stats
		st := UpstreamStatus{
			Name: u.cfg.Name, URL: u.cfg.URL, Project: u.cfg.Project, Namespaces: u.cfg.Namespaces, Mirror: u.cfg.Mirror,
			ManifestTTL: u.cfg.ManifestTTL.String(), CacheSize: int64(u.cfg.CacheSize), MaxAge: u.cfg.MaxAge.String(),
			CacheBytes:   usage,
			ManifestHits: s.manifestHits.Load(), ManifestMisses: s.manifestMisses.Load(), StaleServed: s.manifestStale.Load(),
			BlobHits: s.blobHits.Load(), BlobMisses: s.blobMisses.Load(), BlobFetches: s.blobFetches.Load(),
			BytesFetched: s.bytesFetched.Load(), Errors: s.errors.Load(), Evicted: s.evicted.Load(),
		}
		st.Pulls = st.ManifestHits + st.ManifestMisses + st.StaleServed
		st.ManifestHitRate = rate(st.ManifestHits+st.StaleServed, st.Pulls)
		st.BlobHitRate = rate(st.BlobHits, st.BlobHits+st.BlobMisses)
		if st.Namespaces == nil {
			st.Namespaces = []string{}
		}
		if msg, at := s.last(); msg != "" {
			st.LastError = &LastError{Message: msg, At: at}
		}
		out = append(out, st)
	}
	return out, nil
}

// rate is part/total, 0 when total is 0.
func rate(part, total int64) float64 {
	if total == 0 {
		return 0
	}
	return float64(part) / float64(total)
}

// HandleUpstreams serves GET /api/v1/proxy/upstreams.
func (p *Proxy) HandleUpstreams(w http.ResponseWriter, r *http.Request) error {
	list, err := p.Upstreams(r)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"upstreams": list})
}

// Scheduler runs the proxy's jobs (jobs.Scheduler).
type Scheduler interface {
	Trigger(ctx context.Context, name, request string) error
	Status(ctx context.Context, name string) (jobs.Status, error)
}

// SyncAPI serves the sync endpoints of the management API.
type SyncAPI struct {
	Proxy *Proxy
	Jobs  Scheduler
}

// SyncStatus is an upstream's scheduled mirroring as the API reports it.
type SyncStatus struct {
	Upstream   string      `json:"upstream"`
	Interval   string      `json:"interval"`
	Running    bool        `json:"running"`
	Pending    bool        `json:"pending"` // a run was asked for and has not started
	StartedAt  *time.Time  `json:"started_at,omitempty"`
	FinishedAt *time.Time  `json:"finished_at,omitempty"`
	LastReport *SyncReport `json:"last_report,omitempty"`
}

// Start serves POST /api/v1/proxy/upstreams/{name}/sync: a sync run of
// the upstream, now, on whichever instance takes the job.
func (a *SyncAPI) Start(w http.ResponseWriter, r *http.Request) error {
	u, err := a.syncing(r)
	if err != nil {
		return err
	}
	if err := a.Jobs.Trigger(r.Context(), SyncJob(u.cfg.Name), ""); err != nil {
		return err
	}
	st, err := a.status(r, u)
	if err != nil {
		return err
	}
	st.Pending = true
	return manage.WriteJSON(w, http.StatusAccepted, st)
}

// Get serves GET /api/v1/proxy/upstreams/{name}/sync: the run in flight
// and the last run's report.
func (a *SyncAPI) Get(w http.ResponseWriter, r *http.Request) error {
	u, err := a.syncing(r)
	if err != nil {
		return err
	}
	st, err := a.status(r, u)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

func (a *SyncAPI) syncing(r *http.Request) (*upstream, error) {
	name := r.PathValue("name")
	u := a.Proxy.byName[name]
	if u == nil {
		return nil, &oci.Error{Code: oci.CodeNameUnknown, Status: http.StatusNotFound, Message: "no upstream " + strconv.Quote(name)}
	}
	if len(u.cfg.Sync) == 0 {
		return nil, &oci.Error{Code: oci.CodeNameUnknown, Status: http.StatusNotFound, Message: "upstream " + name + " has no sync rules"}
	}
	return u, nil
}

func (a *SyncAPI) status(r *http.Request, u *upstream) (*SyncStatus, error) {
	js, err := a.Jobs.Status(r.Context(), SyncJob(u.cfg.Name))
	if err != nil {
		return nil, err
	}
	st := &SyncStatus{Upstream: u.cfg.Name, Interval: u.cfg.SyncInterval.String(), Running: js.Running, Pending: js.Pending}
	if !js.StartedAt.IsZero() {
		st.StartedAt = &js.StartedAt
	}
	if !js.FinishedAt.IsZero() {
		st.FinishedAt = &js.FinishedAt
	}
	if js.Report != "" {
		var rep SyncReport
		if err := json.Unmarshal([]byte(js.Report), &rep); err == nil {
			st.LastReport = &rep
		}
	}
	return st, nil
}
