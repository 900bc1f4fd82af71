// Package proxy is Berth's pull-through cache: it serves repositories of
// upstream registries (Docker Hub, GHCR, Quay, another Berth) and keeps
// what it fetched in the ordinary stores, so cached content is listed,
// pulled by digest and garbage collected like pushed content.
//
// Names map to upstreams three ways (docs/proxy.md): a proxy project
// prefix ("dockerhub/library/nginx"), a client's ?ns= namespace (containerd
// mirrors), and mirror mode (a Docker daemon's registry-mirrors asks for
// "library/nginx"; it is proxied when no such local repository exists).
// Each upstream's cache lives under its project prefix, whichever way a
// name arrived.
//
// Manifests: a tag is served from the cache for manifest_ttl, then checked
// with one HEAD; by digest the cache never asks again. Blobs stream to the
// client while they are written to a spool file (that every concurrent
// puller of the blob reads) and to storage; the blob is committed only
// once its digest verified, and the last byte is released to clients only
// then. Upstream failures serve stale tags with a Warning.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/singleflight"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/storage"
)

// Options configure the proxy.
type Options struct {
	Config config.Proxy
	// MaxManifestSize is the largest manifest cached (as for pushes).
	MaxManifestSize int64
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// Proxy implements registry.Upstream over the configured upstreams.
type Proxy struct {
	meta  meta.Store
	blobs *storage.Blobs
	log   *slog.Logger
	opts  Options
	now   func() time.Time

	ups       []*upstream
	byName    map[string]*upstream
	byProject map[string]*upstream
	byNS      map[string]*upstream
	mirror    *upstream

	manifests singleflight.Group // one upstream fetch per repository@reference

	fetchMu sync.Mutex
	fetches map[string]*fetch // blob downloads in flight, by route and digest

	pulledMu sync.Mutex
	pulled   map[string]time.Time // last MarkPulled per repository@digest

	ctx    context.Context // fetches run in it, detached from any one client
	cancel context.CancelFunc
}

// upstream is one configured upstream with its client and counters.
type upstream struct {
	cfg   config.Upstream
	c     *client
	stats stats
}

var _ registry.Upstream = (*Proxy)(nil)

// New builds the proxy from its configuration.
func New(m meta.Store, b *storage.Blobs, opts Options, log *slog.Logger) (*Proxy, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxManifestSize <= 0 {
		opts.MaxManifestSize = 4 << 20
	}
	p := &Proxy{
		meta: m, blobs: b, log: log, opts: opts, now: opts.Now,
		byName: map[string]*upstream{}, byProject: map[string]*upstream{}, byNS: map[string]*upstream{},
		fetches: map[string]*fetch{}, pulled: map[string]time.Time{},
	}
	for _, uc := range opts.Config.Upstreams {
		c, err := newClient(uc)
		if err != nil {
			return nil, err
		}
		u := &upstream{cfg: uc, c: c}
		p.ups = append(p.ups, u)
		p.byName[uc.Name] = u
		p.byProject[uc.Project] = u
		for _, ns := range uc.Namespaces {
			p.byNS[ns] = u
		}
		if uc.Mirror {
			p.mirror = u
		}
	}
	if len(p.ups) > 0 {
		if err := os.MkdirAll(opts.Config.SpoolDir, 0o700); err != nil {
			return nil, fmt.Errorf("proxy.spool_dir: %w", err)
		}
		cleanSpool(opts.Config.SpoolDir, log)
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// Enabled reports whether any upstream is configured.
func (p *Proxy) Enabled() bool { return len(p.ups) > 0 }

// Close stops the downloads in flight.
func (p *Proxy) Close() { p.cancel() }

// cleanSpool removes spool files a crash left behind (a running fetch
// unlinks its file as soon as it opened it).
func cleanSpool(dir string, log *slog.Logger) {
	names, _ := filepath.Glob(filepath.Join(dir, spoolPattern))
	for _, n := range names {
		if err := os.Remove(n); err != nil {
			log.Warn("proxy: removing a leftover spool file", "file", n, "error", err)
		}
	}
}

// Route implements registry.Upstream.
func (p *Proxy) Route(repo, ns string) (registry.ProxyRoute, bool) {
	if len(p.ups) == 0 {
		return registry.ProxyRoute{}, false
	}
	if ns != "" {
		// The client named its source registry: that upstream or none.
		if u := p.byNS[ns]; u != nil {
			return u.route(repo, false), true
		}
		return registry.ProxyRoute{}, false
	}
	if project, rest, ok := strings.Cut(repo, "/"); ok && rest != "" {
		if u := p.byProject[project]; u != nil {
			return u.route(rest, false), true
		}
	}
	if p.mirror != nil {
		return p.mirror.route(repo, true), true
	}
	return registry.ProxyRoute{}, false
}

func (u *upstream) route(name string, fallback bool) registry.ProxyRoute {
	remote := u.c.remoteName(name)
	return registry.ProxyRoute{Upstream: u.cfg.Name, Repo: u.cfg.Project + "/" + remote, Remote: remote, Fallback: fallback}
}

// ServesNamespace implements registry.Upstream.
func (p *Proxy) ServesNamespace(ns string) bool { return p.byNS[ns] != nil }

func (p *Proxy) upstream(r registry.ProxyRoute) (*upstream, error) {
	u := p.byName[r.Upstream]
	if u == nil {
		return nil, fmt.Errorf("proxy: no upstream %q", r.Upstream)
	}
	return u, nil
}

// pullMarkInterval throttles recording pulls: eviction needs minutes, not
// every request, and each mark is a write.
const pullMarkInterval = time.Minute

// markPulled records a pull of a cached manifest for eviction.
func (p *Proxy) markPulled(ctx context.Context, repo string, d digest.Digest) {
	now := p.now()
	key := repo + "@" + d.String()
	p.pulledMu.Lock()
	last, ok := p.pulled[key]
	if ok && now.Sub(last) < pullMarkInterval {
		p.pulledMu.Unlock()
		return
	}
	if len(p.pulled) > 100_000 {
		clear(p.pulled)
	}
	p.pulled[key] = now
	p.pulledMu.Unlock()
	if err := p.meta.MarkPulled(context.WithoutCancel(ctx), repo, d, now); err != nil && !errors.Is(err, meta.ErrNotFound) {
		p.log.WarnContext(ctx, "proxy: recording a pull", "repo", repo, "digest", d.String(), "error", err)
	}
}
