package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
)

// Sentinel errors.
var (
	// ErrNoDatabase: no vulnerability database is loaded yet.
	ErrNoDatabase = errors.New("scan: no vulnerability database loaded")
	// ErrNotScannable: the manifest is not an image or an index of images.
	ErrNotScannable = errors.New("scan: manifest is not an image")
	// ErrNotScanned: the manifest has no scan result yet.
	ErrNotScanned = errors.New("scan: not scanned yet")
	// ErrInvalid: a request (policy, allowlist) is malformed.
	ErrInvalid = errors.New("scan: invalid request")
)

// Registry is what the scanner reads of the registry service.
type Registry interface {
	GetManifest(ctx context.Context, repo, ref string) (*meta.Manifest, error)
}

// Extractor extracts the packages of an image from its layers.
type Extractor interface {
	Name() string
	Extract(ctx context.Context, layers []digest.Digest) ([]Package, error)
}

// External is an external scanner (Harbor's pluggable scanner API,
// internal/scan/harbor): it scans one image manifest and returns its
// findings and the scanner's version.
type External interface {
	Scan(ctx context.Context, repo string, m *meta.Manifest) (findings []Finding, version string, err error)
}

// Matcher is a loaded vulnerability database.
type Matcher interface {
	Match(pkgs []Package) []Finding
}

// Database is the loaded vulnerability database with what describes it.
type Database struct {
	Matcher
	Version    string    // the artifact's manifest digest
	BuiltAt    time.Time // the artifact's build time
	LoadedAt   time.Time
	Advisories int
}

// Options tune the service.
type Options struct {
	// Workers scan queued manifests (on push, on demand); default 2.
	Workers int
	// Queue bounds the manifests waiting for a worker; default 1000.
	Queue int
	// MaxAge: the database is reported stale when older (0: never).
	MaxAge time.Duration
	// PolicyTTL is how long a project's policy, and the gate's view of a
	// manifest's result, are cached (default 10s): what another instance
	// changes shows within this time.
	PolicyTTL time.Duration
	// Scanners are the external scanners a project's policy may pick.
	Scanners map[string]External
	// Referrers reads the OpenVEX documents attached to images.
	Referrers Referrers
	// Caller and RoleOf tell the gate who pulls, for exemptions.
	Caller CallerFunc
	RoleOf RoleFunc
	// Deny is told about each refused pull (the audit log).
	Deny func(ctx context.Context, repo string, dgst digest.Digest, reason string)
	// Refresh loads the newest vulnerability database now (the rescan
	// job calls it when it runs on an instance that has not seen the
	// version it is for yet).
	Refresh func(ctx context.Context) error
	// Observe is told about each scan (metrics).
	Observe func(result string, d time.Duration)
}

// Service scans images and answers for their results.
type Service struct {
	store meta.ScanStore
	reg   Registry
	x     Extractor
	opts  Options
	log   *slog.Logger
	db    atomic.Pointer[Database]

	queue     chan queued
	queued    atomic.Int64
	policies  sync.Map // project -> cachedPolicy
	summaries *summaryCache
}

type queued struct{ repo, dgst string }

// New returns a scanning service; Run starts its workers.
func New(store meta.ScanStore, reg Registry, x Extractor, opts Options, log *slog.Logger) *Service {
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.Queue <= 0 {
		opts.Queue = 1000
	}
	if opts.PolicyTTL <= 0 {
		opts.PolicyTTL = 10 * time.Second
	}
	if opts.Observe == nil {
		opts.Observe = func(string, time.Duration) {}
	}
	return &Service{store: store, reg: reg, x: x, opts: opts, log: log, queue: make(chan queued, opts.Queue),
		summaries: newSummaryCache(opts.PolicyTTL, 100000)}
}

// SetDatabase installs a newly loaded vulnerability database.
func (s *Service) SetDatabase(d *Database) { s.db.Store(d) }

// DatabaseStatus describes the loaded database.
type DatabaseStatus struct {
	Loaded     bool      `json:"loaded"`
	Version    string    `json:"version,omitempty"`
	BuiltAt    time.Time `json:"built_at,omitzero"`
	LoadedAt   time.Time `json:"loaded_at,omitzero"`
	AgeSeconds float64   `json:"age_seconds,omitempty"`
	Advisories int       `json:"advisories,omitempty"`
	Stale      bool      `json:"stale"`
}

// Database reports the loaded database's version and age.
func (s *Service) Database() DatabaseStatus {
	d := s.db.Load()
	if d == nil {
		return DatabaseStatus{Stale: true}
	}
	age := time.Since(d.BuiltAt)
	return DatabaseStatus{Loaded: true, Version: d.Version, BuiltAt: d.BuiltAt, LoadedAt: d.LoadedAt,
		AgeSeconds: age.Seconds(), Advisories: d.Advisories, Stale: s.opts.MaxAge > 0 && age > s.opts.MaxAge}
}

// QueueLength is the number of manifests waiting for a worker.
func (s *Service) QueueLength() int64 { return s.queued.Load() }

// Enqueue asks for a scan of repo@dgst by a worker; it never blocks and
// reports false when the queue is full.
func (s *Service) Enqueue(repo string, dgst digest.Digest) bool {
	select {
	case s.queue <- queued{repo, dgst.String()}:
		s.queued.Add(1)
		return true
	default:
		return false
	}
}

// OnPush is the registry's push hook: it queues a scan when the
// project's policy asks for scans on push.
func (s *Service) OnPush(ctx context.Context, m *meta.Manifest, _ []string) {
	if isVEX(m) {
		// A VEX document about a scanned image: scan it again (from its
		// stored packages) so the statements apply to its result.
		if _, err := s.store.GetScanResult(ctx, m.Subject, false); err == nil {
			s.Enqueue(m.Repository, m.Subject)
		}
		return
	}
	p, err := s.effectivePolicy(ctx, projectOf(m.Repository))
	if err != nil || !p.ScanOnPush || !scannable(m) {
		return
	}
	if !s.Enqueue(m.Repository, m.Digest) {
		s.log.Warn("scan queue full, scan on push skipped", "repo", m.Repository, "digest", m.Digest)
	}
}

// Run runs the workers until ctx ends.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case q := <-s.queue:
					s.queued.Add(-1)
					if _, err := s.Scan(ctx, q.repo, digest.Digest(q.dgst)); err != nil && ctx.Err() == nil {
						s.log.Warn("scan failed", "repo", q.repo, "digest", q.dgst, "error", err)
					}
				}
			}
		}()
	}
	wg.Wait()
}

// scannable reports whether m is an image or an index.
func scannable(m *meta.Manifest) bool {
	switch m.MediaType {
	case v1.MediaTypeImageIndex, mediaTypeDockerList:
		return true
	case v1.MediaTypeImageManifest, mediaTypeDockerManifest:
		return m.ArtifactType == "" || m.ArtifactType == v1.MediaTypeImageConfig || m.ArtifactType == mediaTypeDockerConfig
	}
	return false
}

const (
	mediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

// Result is a stored scan result as the API returns it.
type Result struct {
	Digest    digest.Digest  `json:"digest"`
	MediaType string         `json:"media_type,omitempty"`
	Scanner   string         `json:"scanner"`
	DBVersion string         `json:"db_version"`
	Status    string         `json:"status"`
	Severity  Severity       `json:"severity"`
	MaxCVSS   float64        `json:"max_cvss,omitempty"`
	Worst     string         `json:"worst,omitempty"`
	Findings  int            `json:"findings"`
	Counts    map[string]int `json:"counts,omitempty"`
	ScannedAt time.Time      `json:"scanned_at"`
	Error     string         `json:"error,omitempty"`
	Report    *Report        `json:"report,omitempty"`
}

// Report is the whole result of a scan.
type Report struct {
	Packages int       `json:"packages"`
	Findings []Finding `json:"findings"`
	// Platforms are the children of an index that were scanned.
	Platforms []PlatformResult `json:"platforms,omitempty"`
}

// PlatformResult is one child of a scanned index.
type PlatformResult struct {
	Platform string        `json:"platform"`
	Digest   digest.Digest `json:"digest"`
	Status   string        `json:"status"`
	Findings int           `json:"findings"`
}

// Scan scans repo@dgst now: an image from its stored package list (or
// its layers, the first time), an index child by child.
func (s *Service) Scan(ctx context.Context, repo string, dgst digest.Digest) (*Result, error) {
	start := time.Now()
	m, err := s.reg.GetManifest(ctx, repo, dgst.String())
	if err != nil {
		return nil, err
	}
	if !scannable(m) {
		return nil, ErrNotScannable
	}
	p, err := s.effectivePolicy(ctx, projectOf(repo))
	if err != nil {
		return nil, err
	}
	sc, err := s.scanner(p.Scanner)
	if err != nil {
		return nil, err
	}
	var rep *Report
	if isIndex(m) {
		rep, err = s.scanIndex(ctx, repo, m, sc)
	} else {
		rep, err = sc.scan(ctx, repo, m)
	}
	r := s.record(dgst, sc.name, sc.version, rep, err)
	s.opts.Observe(r.Status, time.Since(start))
	if err := s.put(ctx, r); err != nil {
		return nil, err
	}
	res := toResult(r)
	res.MediaType = m.MediaType
	return &res, nil
}

// imageScanner scans one image: the built-in matcher or an external
// scanner.
type imageScanner struct {
	name, version string
	scan          func(ctx context.Context, repo string, m *meta.Manifest) (*Report, error)
}

// scanner returns the named scanner ("" : the built-in one).
func (s *Service) scanner(name string) (*imageScanner, error) {
	if name == "" || name == ScannerBuiltin {
		db := s.db.Load()
		if db == nil {
			return nil, ErrNoDatabase
		}
		return &imageScanner{name: ScannerBuiltin, version: db.Version, scan: func(ctx context.Context, repo string, m *meta.Manifest) (*Report, error) {
			return s.scanImage(ctx, repo, m, db)
		}}, nil
	}
	ext, ok := s.opts.Scanners[name]
	if !ok {
		return nil, fmt.Errorf("%w: no scanner %q is configured", ErrInvalid, name)
	}
	sc := &imageScanner{name: name}
	sc.scan = func(ctx context.Context, repo string, m *meta.Manifest) (*Report, error) {
		fs, version, err := ext.Scan(ctx, repo, m)
		if err != nil {
			return nil, err
		}
		sc.version = version
		sortFindings(fs)
		return &Report{Findings: fs}, s.applyVEX(ctx, repo, m.Digest, fs, nil)
	}
	return sc, nil
}

// Rescan matches a manifest's stored package list against the loaded
// database again (after an update), reading no layer.
func (s *Service) Rescan(ctx context.Context, dgst digest.Digest) error {
	db := s.db.Load()
	if db == nil {
		return ErrNoDatabase
	}
	start := time.Now()
	pkgs, err := s.storedPackages(ctx, dgst)
	if err != nil {
		return err
	}
	rep := &Report{Packages: len(pkgs), Findings: db.Match(pkgs)}
	s.keepVEX(ctx, dgst, rep.Findings)
	r := s.record(dgst, ScannerBuiltin, db.Version, rep, nil)
	s.opts.Observe(r.Status, time.Since(start))
	return s.put(ctx, r)
}

// put stores a result and shows it to this instance's gate at once.
func (s *Service) put(ctx context.Context, r meta.ScanResult) error {
	if err := s.store.PutScanResult(ctx, r); err != nil {
		return err
	}
	s.stored(r)
	return nil
}

func isIndex(m *meta.Manifest) bool {
	return m.MediaType == v1.MediaTypeImageIndex || m.MediaType == mediaTypeDockerList
}

func (s *Service) storedPackages(ctx context.Context, dgst digest.Digest) ([]Package, error) {
	sp, err := s.store.GetScanPackages(ctx, dgst)
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	if err := json.Unmarshal(sp.Data, &pkgs); err != nil {
		return nil, fmt.Errorf("stored package list of %s: %w", dgst, err)
	}
	return pkgs, nil
}

// packages returns an image's package list, extracting and storing it
// the first time.
func (s *Service) packages(ctx context.Context, repo string, m *meta.Manifest) ([]Package, error) {
	pkgs, err := s.storedPackages(ctx, m.Digest)
	if err == nil || !errors.Is(err, meta.ErrNotFound) {
		return pkgs, err
	}
	var im v1.Manifest
	if err := json.Unmarshal(m.Content, &im); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotScannable, err)
	}
	layers := make([]digest.Digest, 0, len(im.Layers))
	for _, l := range im.Layers {
		layers = append(layers, l.Digest)
	}
	pkgs, err = s.x.Extract(ctx, layers)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(pkgs)
	if err != nil {
		return nil, err
	}
	err = s.store.PutScanPackages(ctx, meta.ScanPackages{Digest: m.Digest, Extractor: s.x.Name(), ExtractedAt: time.Now(), Data: data})
	return pkgs, err
}

func (s *Service) scanImage(ctx context.Context, repo string, m *meta.Manifest, db *Database) (*Report, error) {
	pkgs, err := s.packages(ctx, repo, m)
	if err != nil {
		return nil, err
	}
	rep := &Report{Packages: len(pkgs), Findings: db.Match(pkgs)}
	purls := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		purls[p.Name+"@"+p.Version] = p.PURL
	}
	return rep, s.applyVEX(ctx, repo, m.Digest, rep.Findings, purls)
}

// applyVEX marks the findings that the OpenVEX documents attached to the
// manifest say are not_affected or fixed.
func (s *Service) applyVEX(ctx context.Context, repo string, dgst digest.Digest, fs []Finding, purls map[string]string) error {
	if len(fs) == 0 {
		return nil
	}
	sts, err := s.vexStatements(ctx, repo, dgst)
	if err != nil {
		return err
	}
	applyVEX(fs, sts, dgst, purls)
	return nil
}

// scanIndex scans each image of an index (per platform, storing each
// child's own result) and reports all their findings.
func (s *Service) scanIndex(ctx context.Context, repo string, m *meta.Manifest, sc *imageScanner) (*Report, error) {
	var idx v1.Index
	if err := json.Unmarshal(m.Content, &idx); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotScannable, err)
	}
	rep := &Report{}
	for _, d := range idx.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" { // attestation manifests of buildx
			continue
		}
		platform := d.Platform.OS + "/" + d.Platform.Architecture
		if d.Platform.Variant != "" {
			platform += "/" + d.Platform.Variant
		}
		child, err := s.reg.GetManifest(ctx, repo, d.Digest.String())
		if err != nil {
			return nil, err
		}
		if !scannable(child) || isIndex(child) {
			continue
		}
		crep, cerr := sc.scan(ctx, repo, child)
		r := s.record(d.Digest, sc.name, sc.version, crep, cerr)
		if err := s.put(ctx, r); err != nil {
			return nil, err
		}
		pr := PlatformResult{Platform: platform, Digest: d.Digest, Status: r.Status}
		if crep != nil {
			pr.Findings = len(crep.Findings)
			rep.Packages += crep.Packages
			for _, f := range crep.Findings {
				f.Platform = platform
				rep.Findings = append(rep.Findings, f)
			}
		}
		rep.Platforms = append(rep.Platforms, pr)
		if cerr != nil {
			return rep, fmt.Errorf("%s: %w", platform, cerr)
		}
	}
	sortFindings(rep.Findings)
	return rep, s.applyVEX(ctx, repo, m.Digest, rep.Findings, nil)
}

// ScannerInfo describes a scanner for GET /api/v1/scan/scanners.
type ScannerInfo struct {
	Name     string          `json:"name"`
	Builtin  bool            `json:"builtin"`
	Database *DatabaseStatus `json:"database,omitempty"` // the built-in scanner's
	Metadata any             `json:"metadata,omitempty"` // an external scanner's own description
	Error    string          `json:"error,omitempty"`    // why it could not describe itself
}

// Describer is an external scanner that can describe itself (Harbor's
// adapter metadata).
type Describer interface {
	Describe(ctx context.Context) (any, error)
}

// Scanners lists the built-in scanner and the configured external ones,
// asking each external one for its metadata.
func (s *Service) Scanners(ctx context.Context) []ScannerInfo {
	db := s.Database()
	out := []ScannerInfo{{Name: ScannerBuiltin, Builtin: true, Database: &db}}
	names := make([]string, 0, len(s.opts.Scanners))
	for n := range s.opts.Scanners {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		info := ScannerInfo{Name: n}
		if d, ok := s.opts.Scanners[n].(Describer); ok {
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			md, err := d.Describe(dctx)
			cancel()
			if err != nil {
				info.Error = err.Error()
			} else {
				info.Metadata = md
			}
		}
		out = append(out, info)
	}
	return out
}
