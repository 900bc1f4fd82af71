package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/anomaly"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/scrub"
)

// Storage lifecycle wiring: garbage collection, scrub, the background job
// scheduler they run on, and repository deletion.

// newLifecycle builds the collector, the scrubber and the job scheduler.
// Pushes check that a blob row they create anew has its file, so garbage
// collection can delete files safely (see meta.GCStore).
func (a *App) newLifecycle() {
	a.meta.SetBlobCheck(func(ctx context.Context, d digest.Digest) error {
		_, err := a.blobs.Stat(ctx, d)
		return err
	})
	g := a.cfg.GC
	a.gc = gc.New(a.meta, a.blobs, gc.Options{
		GracePeriod: g.GracePeriod, UploadMaxAge: g.UploadMaxAge, BatchSize: g.BatchSize,
		Parallelism: g.Parallelism, OrphanReferrers: g.OrphanReferrers,
		ManifestDeleted: a.svc.ForgetManifest,
	}, a.log.With("component", "gc"))
	a.scrub = scrub.New(a.meta, a.blobs, scrub.Options{Parallelism: g.Parallelism}, a.log.With("component", "scrub"))
	gm := newGCMetrics(a.metrics.registry)
	observeGC := func(r gc.Report, err error) {
		gm.observe(r, err)
		a.onGCFinished(r, err)
	}
	all := []jobs.Job{a.gc.Job(g.Interval, observeGC), a.scrub.Job(a.cfg.Scrub.Interval, newScrubMetrics(a.metrics.registry).observe)}
	all = append(all, a.policyJobs()...)
	all = append(all, a.backupJob())
	all = append(all, a.proxy.Jobs()...) // cache limits, scheduled mirroring
	all = append(all, a.scanJobs()...)
	a.anomaly = anomaly.New(a.meta, a.cfg.Anomaly, a.log.With("component", "anomaly"), a.recordAnomaly)
	if a.cfg.Anomaly.Enabled && a.audit != nil {
		all = append(all, a.anomaly.Job(a.cfg.Anomaly.Interval))
	}
	if a.cfg.Replication.Enabled {
		all = append(all, jobs.Job{Name: replication.JobName, Interval: a.cfg.Replication.Interval,
			Run: func(ctx context.Context, _ *jobs.Run) (string, error) {
				n, err := a.repl.Work(ctx)
				return replication.Report(n), err
			}})
	}
	if a.sso != nil && a.cfg.Auth.OIDC.RefreshInterval > 0 {
		all = append(all, jobs.Job{Name: OIDCRefreshJob, Interval: a.cfg.Auth.OIDC.RefreshInterval,
			Run: func(ctx context.Context, _ *jobs.Run) (string, error) { return a.auth.RefreshExternal(ctx, a.sso) }})
	}
	a.jobs = jobs.New(a.meta, jobs.Options{Lease: a.cfg.Jobs.Lease, Poll: a.cfg.Jobs.Poll, Log: a.log.With("component", "jobs")}, all...)
}

// StartJobs runs the background job scheduler until Close (Serve calls it).
// The event delivery workers start with them.
func (a *App) StartJobs(ctx context.Context) {
	a.jobs.Start(ctx)
	a.startEvents(ctx)
}

// recordAnomaly counts a pull-anomaly finding and records it in the audit
// log (action "anomaly", the kind as the reference).
func (a *App) recordAnomaly(f meta.AnomalyFinding) {
	a.metrics.ops.anomalies.WithLabelValues(f.Kind).Inc()
	user := ""
	if kind, name, ok := strings.Cut(f.Identity, ":"); ok && (kind == "user" || kind == "robot") {
		user = name
	}
	a.audit.Record(meta.AuditEvent{Time: time.Now(), Action: "anomaly", User: user, Repository: f.Repository,
		Reference: f.Kind, Status: "success", ClientIP: f.ClientIP})
}

// Jobs is the background job scheduler (for commands and tests).
func (a *App) Jobs() *jobs.Scheduler { return a.jobs }

// GC is the garbage collector (for commands and tests).
func (a *App) GC() *gc.Collector { return a.gc }

// Scrubber checks stored blobs (for commands and tests).
func (a *App) Scrubber() *scrub.Scrubber { return a.scrub }

// deleteRepository deletes a repository of a project
// (DELETE /api/v1/projects/{project}/repositories/{repository...}):
// the repository's full name is project/repository.
func (a *App) deleteRepository(w http.ResponseWriter, r *http.Request) error {
	return a.deleteRepositoryNamed(w, r, r.PathValue("project")+"/"+r.PathValue("repository"))
}

// deleteAnyRepository deletes any repository by its full name, including
// top-level ones outside any project (DELETE /api/v1/repositories/{name...}).
func (a *App) deleteAnyRepository(w http.ResponseWriter, r *http.Request) error {
	return a.deleteRepositoryNamed(w, r, r.PathValue("name"))
}

func (a *App) deleteRepositoryNamed(w http.ResponseWriter, r *http.Request, name string) error {
	if !oci.ValidName(name) {
		return &oci.Error{Code: oci.CodeNameInvalid, Message: "invalid repository name: " + name}
	}
	if err := a.svc.DeleteRepository(r.Context(), name); err != nil {
		if errors.Is(err, registry.ErrNameUnknown) {
			return &oci.Error{Code: oci.CodeNameUnknown, Message: "repository not found: " + name}
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// gcMetrics are garbage collection's Prometheus metrics.
type gcMetrics struct {
	runs     *prometheus.CounterVec
	deleted  *prometheus.CounterVec
	freed    prometheus.Counter
	duration prometheus.Gauge
	last     prometheus.Gauge
}

func newGCMetrics(reg *prometheus.Registry) *gcMetrics {
	m := &gcMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_gc_runs_total", Help: "Garbage collection runs finished on this instance, by result (ok, error, dry_run).",
		}, []string{"result"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_gc_deleted_total", Help: "Items garbage collection deleted, by kind (manifest, link, blob, orphan_file, upload, upload_file).",
		}, []string{"kind"}),
		freed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "berth_gc_freed_bytes_total", Help: "Bytes garbage collection freed (blobs, orphaned files, uploads, manifests).",
		}),
		duration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gc_last_duration_seconds", Help: "Duration of the last garbage collection run on this instance.",
		}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_gc_last_success_timestamp_seconds", Help: "When the last successful garbage collection run on this instance finished.",
		}),
	}
	for _, r := range []string{"ok", "error"} {
		m.runs.WithLabelValues(r) // present from the start, so an alert on errors has a series to watch
	}
	reg.MustRegister(m.runs, m.deleted, m.freed, m.duration, m.last)
	return m
}

// scrubMetrics are the scrub's Prometheus metrics.
type scrubMetrics struct {
	runs    *prometheus.CounterVec
	damaged *prometheus.CounterVec
	last    prometheus.Gauge
}

func newScrubMetrics(reg *prometheus.Registry) *scrubMetrics {
	m := &scrubMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_scrub_runs_total", Help: "Scrub runs finished on this instance, by result (ok, damaged: missing or corrupt blobs found, error).",
		}, []string{"result"}),
		damaged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_scrub_damaged_blobs_total", Help: "Blobs scrub found damaged, by kind (missing, corrupt).",
		}, []string{"kind"}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_scrub_last_success_timestamp_seconds", Help: "When the last scrub run that finished without error on this instance ended.",
		}),
	}
	for _, r := range []string{"ok", "damaged", "error"} {
		m.runs.WithLabelValues(r)
	}
	for _, k := range []string{"missing", "corrupt"} {
		m.damaged.WithLabelValues(k)
	}
	reg.MustRegister(m.runs, m.damaged, m.last)
	return m
}

func (m *scrubMetrics) observe(r scrub.Report, err error) {
	switch {
	case err != nil:
		m.runs.WithLabelValues("error").Inc()
		return
	case r.OK():
		m.runs.WithLabelValues("ok").Inc()
	default:
		m.runs.WithLabelValues("damaged").Inc()
	}
	m.damaged.WithLabelValues("missing").Add(float64(r.Missing))
	m.damaged.WithLabelValues("corrupt").Add(float64(r.Corrupt))
	m.last.Set(float64(time.Now().UnixNano()) / 1e9)
}

func (m *gcMetrics) observe(r gc.Report, err error) {
	switch {
	case err != nil:
		m.runs.WithLabelValues("error").Inc()
	case r.DryRun:
		m.runs.WithLabelValues("dry_run").Inc()
		return
	default:
		m.runs.WithLabelValues("ok").Inc()
		m.last.Set(float64(r.FinishedAt.UnixNano()) / 1e9)
	}
	m.duration.Set(r.Duration)
	if r.DryRun {
		return
	}
	for kind, n := range map[string]int64{"manifest": r.Manifests, "link": r.Links, "blob": r.Blobs,
		"orphan_file": r.OrphanFiles, "upload": r.Uploads, "upload_file": r.UploadFiles} {
		m.deleted.WithLabelValues(kind).Add(float64(n))
	}
	m.freed.Add(float64(r.FreedBytes()))
}

// OIDCRefreshJob checks single sign-on users' groups with the provider
// between logins (auth.oidc.refresh_interval).
const OIDCRefreshJob = "oidc-refresh"
