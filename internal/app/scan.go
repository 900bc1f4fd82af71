package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/builtin"
	"github.com/berth-registry/berth/internal/scan/harbor"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// Vulnerability scanning wiring (docs/scanning.md): the scanning service,
// its pull gate and push hook, the database loader, its jobs and metrics.

// lazyRegistry reaches the registry service, which is built after the
// scanning service (whose gate and push hook the registry needs).
type lazyRegistry struct{ a *App }

func (l lazyRegistry) GetManifest(ctx context.Context, repo, ref string) (*meta.Manifest, error) {
	return l.a.svc.GetManifest(ctx, repo, ref)
}

func (l lazyRegistry) Referrers(ctx context.Context, repo string, dgst digest.Digest, artifactType string) (*v1.Index, error) {
	return l.a.svc.Referrers(ctx, repo, dgst, artifactType)
}

func (l lazyRegistry) OpenBlob(ctx context.Context, repo string, dgst digest.Digest) (io.ReadCloser, error) {
	c, err := l.a.svc.OpenBlob(ctx, repo, dgst)
	if err != nil {
		return nil, err
	}
	return c.ReadCloser, nil
}

// scanMetrics are the scanning service's metrics.
type scanMetrics struct {
	scans    *prometheus.CounterVec
	duration prometheus.Histogram
}

// newScan builds the scanning service and adds its gate and push hook to
// the registry's options (scan.enabled).
func (a *App) newScan(opts *registry.Options) error {
	c := a.cfg.Scan
	if !c.Enabled {
		return nil
	}
	x, err := builtin.New(a.blobs, builtin.Options{TempDir: c.TempDir, MaxBytes: int64(c.MaxTempBytes), Log: a.log})
	if err != nil {
		return err
	}
	a.scanMetrics = &scanMetrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_scans_total",
			Help: "Vulnerability scans (and rescans) by result."}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "berth_scan_duration_seconds",
			Help: "How long a vulnerability scan takes.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 10)}),
	}
	scanners := map[string]scan.External{}
	for _, sc := range c.Scanners {
		scanners[sc.Name] = &harbor.Scanner{Client: harbor.New(sc.URL, sc.Authorization, nil), RegistryURL: c.RegistryURL,
			Token: a.scannerToken, Timeout: c.ScannerTimeout}
	}
	a.scan = scan.New(a.meta, lazyRegistry{a}, x, scan.Options{
		Workers: c.Workers, Queue: c.Queue, MaxAge: c.Database.MaxAge, Scanners: scanners, Referrers: lazyRegistry{a},
		Caller: func(ctx context.Context) (scan.Caller, bool) {
			s := auth.SubjectFromContext(ctx)
			if s.Anonymous() {
				return scan.Caller{}, false
			}
			return scan.Caller{Name: s.Name, Robot: s.Kind == auth.KindRobot, Admin: s.Admin}, true
		},
		RoleOf: func(ctx context.Context, project string) (string, error) {
			if a.auth == nil {
				return "", nil
			}
			return a.auth.ProjectRole(ctx, auth.SubjectFromContext(ctx), project)
		},
		Deny:    a.recordScanDenial,
		Refresh: a.LoadVulnDB,
		Observe: func(result string, d time.Duration) {
			a.scanMetrics.scans.WithLabelValues(result).Inc()
			a.scanMetrics.duration.Observe(d.Seconds())
		},
	}, a.log.With("component", "scan"))
	a.vulndb = vulndb.NewLoader(vulndbSource{lazyRegistry{a}}, c.Database.Repository, c.Database.Tag, a.scan.SetDatabase, a.newDatabase,
		a.log.With("component", "vulndb"))
	opts.PullGates = append(opts.PullGates, a.scan.Gate())
	opts.OnPush = append(opts.OnPush, a.scan.OnPush)
	return nil
}

// scannerToken is the credential an external scanner pulls repo with: a
// token of the configured token lifetime granting pull on that one
// repository (none with access control off).
func (a *App) scannerToken(ctx context.Context, repo string) (string, error) {
	if a.auth == nil {
		return "", nil
	}
	t, err := a.auth.IssueToken(ctx, nil, []auth.Access{{Type: auth.TypeRepository, Name: repo, Actions: []string{auth.ActionPull}}})
	if err != nil {
		return "", err
	}
	return "Bearer " + t.Token, nil
}

// startScan registers the metrics and runs the workers and the database
// loader until bg ends.
func (a *App) startScan(bg context.Context) {
	if a.scan == nil {
		return
	}
	m := a.scanMetrics
	a.metrics.registry.MustRegister(m.scans, m.duration,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_scan_queue_length", Help: "Images waiting for a scan worker."},
			func() float64 { return float64(a.scan.QueueLength()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_vulndb_age_seconds",
			Help: "Age of the loaded vulnerability database (since it was built); -1 when none is loaded."},
			func() float64 {
				if st := a.scan.Database(); st.Loaded {
					return st.AgeSeconds
				}
				return -1
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_vulndb_stale", Help: "1 when the vulnerability database is older than scan.database.max_age or missing."},
			func() float64 {
				if a.scan.Database().Stale {
					return 1
				}
				return 0
			}))
	go a.scan.Run(bg)
	go a.vulndb.Run(bg, a.cfg.Scan.Database.Poll)
	go a.warnStaleDatabase(bg)
}

// warnStaleDatabase logs, hourly, that the loaded database is older than
// scan.database.max_age.
func (a *App) warnStaleDatabase(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if st := a.scan.Database(); st.Loaded && st.Stale {
				a.log.Warn("the vulnerability database is older than scan.database.max_age", "built_at", st.BuiltAt,
					"max_age", a.cfg.Scan.Database.MaxAge, "version", st.Version)
			}
		}
	}
}

// newDatabase asks for a rescan of every stored package list when a new
// database version is loaded (on whichever instance takes the job).
func (a *App) newDatabase(ctx context.Context, version string) {
	if a.jobs == nil {
		return
	}
	req, _ := json.Marshal(scan.JobRequest{Version: version})
	if err := a.jobs.Trigger(ctx, scan.JobRescan, string(req)); err != nil {
		a.log.Warn("rescan after a vulnerability database update not requested", "error", err)
	}
}

// scanJobs are the scanning jobs: scan all, and rescan all.
func (a *App) scanJobs() []jobs.Job {
	if a.scan == nil {
		return nil
	}
	n := a.cfg.Scan.Concurrency
	run := func(r *jobs.Run) scan.Run { return scan.Run{Request: r.Request, Progress: r.Progress, Save: r.Save} }
	return []jobs.Job{
		{Name: scan.JobScanAll, Run: func(ctx context.Context, r *jobs.Run) (string, error) { return a.scan.ScanAll(ctx, run(r), a.meta, n) }},
		{Name: scan.JobRescan, Run: func(ctx context.Context, r *jobs.Run) (string, error) { return a.scan.RescanAll(ctx, run(r), n) }},
	}
}

// recordScanDenial records a pull the vulnerability gate refused.
func (a *App) recordScanDenial(ctx context.Context, repo string, dgst digest.Digest, reason string) {
	a.log.InfoContext(ctx, "pull refused by the vulnerability gate", "repo", repo, "digest", dgst, "reason", reason)
	if a.audit == nil {
		return
	}
	user := ""
	if s := auth.SubjectFromContext(ctx); !s.Anonymous() {
		user = s.Name
	}
	a.audit.Record(meta.AuditEvent{Time: time.Now(), Action: "scan.gate", User: user, Repository: repo,
		Reference: reason, Digest: dgst.String(), Status: "failure", HTTPStatus: 403})
}

// Scan is the scanning service (nil with scan.enabled off), for tests.
func (a *App) Scan() *scan.Service { return a.scan }

// LoadVulnDB loads the newest vulnerability database now (tests, and
// after an import on this instance).
func (a *App) LoadVulnDB(ctx context.Context) error {
	if a.vulndb == nil {
		return nil
	}
	return a.vulndb.Load(ctx)
}

// publisher stores SBOM referrers through the registry service.
type publisher struct{ a *App }

func (p publisher) PushBlob(ctx context.Context, repo string, dgst digest.Digest, size int64, body io.Reader) error {
	_, err := p.a.svc.PushBlob(ctx, repo, dgst, size, body)
	return err
}

func (p publisher) PutManifest(ctx context.Context, repo, ref, contentType string, body []byte) error {
	_, err := p.a.svc.PutManifest(ctx, repo, ref, nil, contentType, body)
	return err
}

// vulndbSource reads the vulnerability database artifact, but never from
// an upstream under the default repository name (vulndbFromUpstreamByDefault).
type vulndbSource struct{ lazyRegistry }

func (v vulndbSource) GetManifest(ctx context.Context, repo, ref string) (*meta.Manifest, error) {
	if v.a.vulndbFromUpstreamByDefault(ctx) {
		return nil, fmt.Errorf("%w: %s is not stored here, and under this default name the pull-through cache would take it from an upstream; "+
			"import the database (berth vulndb import) or name the upstream repository you trust in scan.database.repository",
			registry.ErrNameUnknown, repo)
	}
	return v.lazyRegistry.GetManifest(ctx, repo, ref)
}

// vulndbFromUpstreamByDefault reports whether the database would be read
// from an upstream only because the default repository name falls in a
// mirrored namespace: whoever owns that name upstream (on Docker Hub,
// anyone) would decide what Berth considers vulnerable. An upstream
// source must be named explicitly.
func (a *App) vulndbFromUpstreamByDefault(ctx context.Context) bool {
	repo := a.cfg.Scan.Database.Repository
	_, proxied := a.svc.ProxyRepo(ctx, repo)
	return proxied && repo == config.DefaultVulnDBRepository
}
