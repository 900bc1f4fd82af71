// Package app wires Berth together from its configuration: it builds the
// stores, the registry service and the HTTP handler, and runs the server.
// It is the only package that imports every other.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/anomaly"
	"github.com/berth-registry/berth/internal/api/authapi"
	"github.com/berth-registry/berth/internal/api/manage"
	v2 "github.com/berth-registry/berth/internal/api/v2"
	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/ldap"
	"github.com/berth-registry/berth/internal/auth/oidc"
	"github.com/berth-registry/berth/internal/buildinfo"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/ratelimit"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/vulndb"
	"github.com/berth-registry/berth/internal/scrub"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/storage/filesystem"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/sysinfo"
	"github.com/berth-registry/berth/internal/trust"
	"github.com/berth-registry/berth/internal/ui"
)

// App is a configured Berth instance.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	meta    meta.Store
	blobs   *storage.Blobs
	svc     *registry.Service
	proxy   *proxy.Proxy
	policy  *policy.Engine
	retain  *policy.Retention
	metrics *metrics
	audit   *audit.Log // nil when audit.enabled is off
	stop    context.CancelFunc
	handler http.Handler
	auth    *auth.Service      // nil with auth.mode none
	sso     *oidc.Provider     // nil without auth.mode oidc
	limiter *ratelimit.Limiter // nil without rate limits
	authAPI *authapi.Handlers
	mgr     *auth.Manager
	gc      *gc.Collector
	scrub   *scrub.Scrubber
	jobs    *jobs.Scheduler
	ui      *ui.UI // nil when ui.enabled is off
	system  *sysinfo.Source
	// pullsDone is closed when the pull statistics are written for the last time.
	pullsDone chan struct{}
	// cacheDone is closed when the manifest cache stops following the store.
	cacheDone chan struct{}
	anomaly   *anomaly.Detector
	// events records and delivers events (events.go); its workers run
	// from StartJobs until Close.
	events     *events.Service
	eventsOnce sync.Once
	eventsStop func()
	repl       *replication.Service
	trust      *trust.Service
	// scan, vulndb and scanMetrics: vulnerability scanning (nil when off).
	scan        *scan.Service
	vulndb      *vulndb.Loader
	scanMetrics *scanMetrics
}

// New builds every component from cfg. Close releases them.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*App, error) {
	if err := makeDataDir(cfg); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	driver, err := openStorage(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	if g, ok := driver.(*gcs.Driver); ok && cfg.Storage.Redirect.Enabled && !g.CanSign() {
		log.Info("storage.redirect is on, but the gcs driver has no service-account key to sign URLs with (application default credentials): Berth serves blob downloads itself; set storage.gcs.credentials_file to redirect")
	}
	blobs := storage.NewBlobs(driver)
	detectDistribution(cfg)
	if cfg.Storage.Distribution.Enabled {
		adopted, err := openAdopted(ctx, cfg.Storage)
		if err != nil {
			return nil, err
		}
		blobs.Adopt(adopted)
	}
	store, err := openMeta(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	checkModes(cfg, log)
	a := &App{cfg: cfg, log: log, meta: store, blobs: blobs}
	a.newEvents(store)
	a.policy = policy.New(store, policy.Options{UsageCache: cfg.Policy.QuotaUsageCache, UntaggedGrace: cfg.Policy.UntaggedGrace,
		QuotaUsage: a.onQuotaUsage}, log)
	opts := registry.Options{
		Policy:          a.policy,
		MaxManifestSize: int64(cfg.Registry.MaxManifestSize),
		DeleteEnabled:   cfg.Registry.DeleteEnabled,
		RedirectExpiry:  redirectExpiry(cfg.Storage.Redirect),
		UploadLease:     cfg.Registry.UploadLease,
		UploadMaxAge:    cfg.GC.UploadMaxAge,
		LinkRenewAfter:  cfg.GC.GracePeriod / 2,

		MaxUploadsPerRepository: cfg.Registry.UploadSessionsPerRepository,
		MaxUploadsPerClient:     cfg.Registry.UploadSessionsPerClient,
		EmptyUploadTTL:          min(cfg.Registry.UploadEmptyTTL, cfg.GC.UploadMaxAge),
	}
	opts.CacheBytes = int64(cfg.Registry.ManifestCacheSize)
	if cfg.Database.Driver == "sqlite" {
		// One process owns the metadata: caches are exact and upload
		// sessions need no leases. With PostgreSQL another instance may
		// delete a manifest, move a tag or write a session at any time:
		// sessions are leased, and the manifest cache follows the
		// database's change feed (LISTEN/NOTIFY; Service.FollowCache).
		opts.SingleInstance = true
	}
	a.proxy, err = proxy.New(store, a.blobs, proxy.Options{Config: cfg.Proxy, MaxManifestSize: opts.MaxManifestSize}, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	if a.proxy.Enabled() {
		opts.Upstream = a.proxy
	}
	opts.OnPush = append(opts.OnPush, a.onPushEvent)
	if cfg.Events.Pulls {
		opts.OnPull = append(opts.OnPull, a.onPullEvent)
	}
	a.trust = a.newTrust(store)
	opts.PullGates = append(opts.PullGates, a.trust)
	opts.OnPush = append(opts.OnPush, a.trust.OnPush)
	if err := a.newScan(&opts); err != nil {
		store.Close()
		return nil, err
	}
	a.svc = registry.New(store, a.blobs, opts, log)
	a.repl = replication.New(store, a.svc, replication.Options{Config: cfg.Replication, Log: log.With("component", "replication"),
		Wake: func(ctx context.Context) { a.jobs.Trigger(ctx, replication.JobName, "") }})
	a.replicateEvents()
	a.metrics = newMetrics(store)
	mgr := auth.NewManager(store, cfg.Auth.BcryptCost)
	if cfg.Auth.Enabled() {
		if cfg.Auth.HasMode(config.AuthOIDC) {
			if a.sso, err = oidc.New(cfg.Auth.OIDC, log, oidc.Options{}); err != nil {
				store.Close()
				return nil, err
			}
		}
		if a.auth, err = openAuth(ctx, cfg, store, log, a.svc.ProxyRepo, a.metrics.ops.observeLogin, a.sso); err != nil {
			store.Close()
			return nil, err
		}
		mgr = a.auth.Manager()
	}
	a.authAPI = authapi.New(a.auth, mgr, log)
	a.mgr = mgr
	a.retain = policy.NewRetention(a.policy, a.svc)
	a.retain.Finished = a.onRetentionFinished
	// Background work lives until Close, not until ctx (New's ctx only
	// bounds building).
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	a.stop = stop
	if cfg.RateLimit.On() {
		a.limiter = ratelimit.New(cfg.RateLimit, store, log, nil)
		go a.limiter.Run(bg)
	}
	a.pullsDone = make(chan struct{})
	go func() {
		defer close(a.pullsDone)
		a.svc.RunPullStats(bg, pullStatsEvery)
	}()
	a.cacheDone = make(chan struct{})
	go func() {
		defer close(a.cacheDone)
		a.svc.FollowCache(bg)
	}()
	go a.trust.Run(bg)
	if cfg.Audit.Enabled {
		a.audit, err = audit.New(store, audit.Config{Output: cfg.Audit.Output, Retention: cfg.Audit.Retention,
			Buffer: cfg.Audit.Buffer, BufferBytes: int64(cfg.Audit.BufferBytes), Pulls: cfg.Audit.Pulls, PullWindow: cfg.Audit.PullWindow}, log)
		if err != nil {
			stop()
			store.Close()
			return nil, err
		}
		go a.audit.Run(bg)
	}
	a.metrics.registry.MustRegister(&opsCollector{volumes: a.volumes(), ready: a.readiness})
	if a.proxy.Enabled() {
		a.metrics.registry.MustRegister(a.proxy)
	}
	a.metrics.registry.MustRegister(a.events.Metrics())
	a.metrics.registry.MustRegister(a.repl.Metrics())
	a.metrics.registry.MustRegister(a.trust.Collectors()...)
	a.metrics.registry.MustRegister(policy.NewCollector(a.policy, cfg.Policy.MetricsProjects, 15*time.Second))
	if a.audit != nil {
		a.metrics.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_audit_events_written_total", Help: "Audit events stored."},
				func() float64 { return float64(a.audit.Written()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_audit_events_dropped_total", Help: "Audit events dropped (queue full or database failing)."},
				func() float64 { return float64(a.audit.Dropped()) }))
	}
	a.newLifecycle()
	a.startScan(bg)
	a.system = &sysinfo.Source{StorageDriver: cfg.Storage.Driver, DatabaseDriver: cfg.Database.Driver, AuthModes: cfg.Auth.Modes(),
		Instance: a.jobs.Owner(), StartedAt: time.Now(), Registry: a.svc, Users: store}
	if cfg.UI.Enabled {
		if err := a.newUI(); err != nil {
			stop()
			store.Close()
			return nil, err
		}
	}
	a.handler = a.routes()
	return a, nil
}

// pullStatsEvery is how often gathered pulls are written to the database.
const pullStatsEvery = 5 * time.Second

// openStorage builds the configured blob storage driver.
func openStorage(ctx context.Context, c config.Storage) (storage.Driver, error) {
	switch c.Driver {
	case "s3":
		s := c.S3
		return s3.New(ctx, s3.Config{
			Bucket: s.Bucket, Prefix: s.Prefix, Region: s.Region, Endpoint: s.Endpoint,
			PublicEndpoint: s.PublicEndpoint, PathStyle: s.PathStyle,
			AccessKey: s.AccessKey, SecretKey: s.SecretKey, SessionToken: s.SessionToken,
			ServerSideEncryption: s.ServerSideEncryption, KMSKeyID: s.KMSKeyID,
			StorageClass: s.StorageClass, PartSize: int64(s.PartSize), CAFile: s.CAFile, Insecure: s.Insecure,
		})
	case "azure":
		a := c.Azure
		return azure.New(ctx, azure.Config{
			AccountName: a.AccountName, AccountKey: a.AccountKey, SASToken: a.SASToken,
			Container: a.Container, Prefix: a.Prefix, Endpoint: a.Endpoint, PublicEndpoint: a.PublicEndpoint,
			BlockSize: int64(a.BlockSize),
		})
	case "gcs":
		g := c.GCS
		return gcs.New(ctx, gcs.Config{
			Bucket: g.Bucket, Prefix: g.Prefix, CredentialsFile: g.CredentialsFile,
			Endpoint: g.Endpoint, Anonymous: g.Anonymous, ChunkSize: int64(g.ChunkSize),
		})
	default:
		return filesystem.New(c.Filesystem.Root)
	}
}

func redirectExpiry(r config.Redirect) time.Duration {
	if !r.Enabled {
		return 0
	}
	return r.Expiry
}

// openMeta opens (and migrates) the configured metadata store.
func openMeta(ctx context.Context, c config.Database) (meta.Store, error) {
	switch c.Driver {
	case "postgres":
		return postgres.Open(ctx, c.Postgres.DSN, postgres.Options{MaxConns: c.Postgres.MaxConns})
	default:
		return sqlite.Open(ctx, c.SQLite.Path)
	}
}

// OpenAdmin opens the metadata store for the access-control commands of
// the CLI (berth user/project/robot); close releases it.
func OpenAdmin(ctx context.Context, cfg *config.Config) (mgr *auth.Manager, close func() error, err error) {
	store, err := openMeta(ctx, cfg.Database)
	if err != nil {
		return nil, nil, err
	}
	return auth.NewManager(store, cfg.Auth.BcryptCost), store.Close, nil
}

// RotateSigningKey makes a new token signing key in the metadata store
// (as POST /api/v1/auth/keys/rotate does) and returns its key id; revoke
// drops the old keys. Running instances start signing with the new key
// (and stop verifying with revoked ones) when they next reload their keys.
func RotateSigningKey(ctx context.Context, cfg *config.Config, log *slog.Logger, revoke bool) (string, error) {
	if !cfg.Auth.Enabled() {
		return "", errors.New("access control is off (auth.mode: none): there are no tokens to sign")
	}
	store, err := openMeta(ctx, cfg.Database)
	if err != nil {
		return "", err
	}
	defer store.Close()
	s, err := openAuth(ctx, cfg, store, log, nil, nil, nil)
	if err != nil {
		return "", err
	}
	return s.RotateKey(ctx, revoke)
}

// Migrate applies the metadata store's schema migrations and returns; the
// stores also migrate when they open, this is for operators who prefer an
// explicit step before starting new instances.
func Migrate(ctx context.Context, cfg *config.Config) error {
	if cfg.Database.Driver == "postgres" {
		return postgres.Migrate(ctx, cfg.Database.Postgres.DSN)
	}
	s, err := sqlite.Open(ctx, cfg.Database.SQLite.Path)
	if err != nil {
		return err
	}
	return s.Close()
}

// openAuth builds access control from the auth configuration; proxyRepo
// (nil: nothing proxied) maps pulls the pull-through cache serves to
// their cache repositories, for the tokens of such pulls; observeLogin, if
// not nil, gets every login's outcome (for metrics); sso, if not nil, is
// the OIDC provider (for auth.oidc.api_bearer).
func openAuth(ctx context.Context, cfg *config.Config, store meta.Store, log *slog.Logger,
	proxyRepo func(context.Context, string) (string, bool), observeLogin func(string, time.Duration), sso *oidc.Provider) (*auth.Service, error) {
	proxies, err := cfg.HTTP.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	o := auth.Options{TrustedProxies: proxies, ProxyRepo: proxyRepo, ObserveLogin: observeLogin}
	if len(cfg.Auth.WorkloadIdentity) > 0 {
		o.Workload = oidc.NewWorkload(nil, nil)
	}
	if sso != nil && cfg.Auth.OIDC.APIBearer {
		o.IDTokens = sso
	}
	if cfg.Auth.HasMode(config.AuthLDAP) {
		if o.LDAP, err = ldap.New(cfg.Auth.LDAP, log); err != nil {
			return nil, err
		}
	}
	return auth.New(ctx, cfg.Auth, store, log, o)
}

// authorizeAPI checks a management route's permission; with auth.mode
// none every caller passes.
func (a *App) authorizeAPI(r *http.Request, perm manage.Permission) error {
	if a.auth == nil {
		return nil
	}
	return a.auth.CheckAPI(r, perm)
}

// AuthEnabled reports whether access control is on.
func (a *App) AuthEnabled() bool { return a.auth != nil }

// v2Access adapts the auth service to the /v2/ router and handlers.
type v2Access struct {
	s   *auth.Service
	svc *registry.Service
}

func (v v2Access) Authorize(r *http.Request, m v2.Matched) error {
	switch m.Kind {
	case v2.KindBase:
		return v.s.CheckBase(r)
	case v2.KindCatalog:
		return v.s.CheckCatalog(r)
	}
	repo := m.Repo
	if m.Action == v2.ActionPull {
		// A pull through mirror mode or ?ns= reads the upstream's cache
		// repository: its project's permissions apply.
		ctx := registry.WithNamespace(r.Context(), r.URL.Query().Get("ns"))
		if cache, ok := v.svc.ProxyRepo(ctx, repo); ok {
			repo = cache
		}
	}
	return v.s.CheckRepo(r, repo, string(m.Action))
}

func (v v2Access) Allowed(r *http.Request, repo string, action v2.Action) bool {
	return v.s.Allowed(r, repo, string(action))
}

func (v v2Access) Visible(r *http.Request) (func(string) bool, error) { return v.s.Visible(r) }

// Public implements v2.Publicity, for the repository Authorize checked
// (a pull-through cache's for a proxied name).
func (v v2Access) Public(r *http.Request, repo string) bool {
	ctx := registry.WithNamespace(r.Context(), r.URL.Query().Get("ns"))
	if cache, ok := v.svc.ProxyRepo(ctx, repo); ok {
		repo = cache
	}
	return v.s.Public(r, repo)
}

// Proxy is the pull-through cache (for tests and commands).
func (a *App) Proxy() *proxy.Proxy { return a.proxy }

// Replication is the replication service (for the events adapter and tests).
func (a *App) Replication() *replication.Service { return a.repl }

// Handler is the whole HTTP surface, with middleware.
func (a *App) Handler() http.Handler { return a.handler }

// Close stops background work (the jobs; the proxy's downloads; the audit
// log writes what it still holds) and releases the stores.
func (a *App) Close() error {
	a.jobs.Stop()
	a.stopEvents()
	a.stop()
	<-a.pullsDone
	<-a.cacheDone
	a.proxy.Close()
	var err error
	if a.audit != nil {
		err = a.audit.Close()
	}
	return errors.Join(err, a.meta.Close())
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it stops
// accepting connections and waits (up to http.shutdown_timeout) for requests
// in flight to finish.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: a.cfg.HTTP.ReadHeaderTimeout,
		IdleTimeout:       a.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	tlsOn := a.cfg.HTTP.TLS.Enabled()
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(a.cfg.HTTP.TLS.Certificate, a.cfg.HTTP.TLS.Key)
		if err != nil {
			return fmt.Errorf("http.tls: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	a.StartJobs(ctx)
	errc := make(chan error, 1)
	go func() {
		if tlsOn {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	bi := buildinfo.Get()
	a.log.Info("berth listening", "addr", ln.Addr().String(), "tls", tlsOn,
		"storage", a.blobs.Driver().Name(), "database", a.cfg.Database.Driver,
		"version", bi.Version, "commit", bi.ShortCommit(), "commit_time", bi.CommitTime, "go", bi.GoVersion)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down; finishing requests in flight", "timeout", a.cfg.HTTP.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), a.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
}

func (a *App) healthz(w http.ResponseWriter, r *http.Request) {
	writeText(w, http.StatusOK, "ok\n")
}

// readyz reports whether the metadata database and blob storage answer.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	state := a.readiness(ctx)
	if err := state["database"]; err != nil {
		a.log.Warn("not ready: database", "error", err)
		writeText(w, http.StatusServiceUnavailable, "database unavailable\n")
		return
	}
	if err := state["storage"]; err != nil {
		a.log.Warn("not ready: storage", "error", err)
		writeText(w, http.StatusServiceUnavailable, "storage unavailable\n")
		return
	}
	writeText(w, http.StatusOK, "ok\n")
}

// readiness checks the metadata database and the blob storage (for
// /readyz and the berth_ready metric): nil for each that answers.
func (a *App) readiness(ctx context.Context) map[string]error {
	state := map[string]error{"database": a.meta.Ping(ctx), "storage": nil}
	if _, err := a.blobs.Driver().Stat(ctx, "blobs"); err != nil && !errors.Is(err, storage.ErrNotFound) {
		state["storage"] = err
	}
	return state
}

// volumes are the local directories whose filesystems Berth fills: the
// filesystem driver's root and the SQLite database's directory.
func (a *App) volumes() []volume {
	var v []volume
	if a.cfg.Storage.Driver == "filesystem" {
		v = append(v, volume{"storage", a.cfg.Storage.Filesystem.Root})
	}
	if a.cfg.Database.Driver == "sqlite" {
		v = append(v, volume{"database", filepath.Dir(a.cfg.Database.SQLite.Path)})
	}
	return v
}
