package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Errors of pulls through an upstream (the pull-through cache).
var (
	// ErrUpstreamUnavailable: the upstream could not be reached or failed
	// (5xx, timeout, refused our credentials) and nothing was cached.
	ErrUpstreamUnavailable = errors.New("upstream registry unavailable")
	// ErrUpstreamRateLimited: the upstream answered 429 and nothing was cached.
	ErrUpstreamRateLimited = errors.New("upstream registry rate limit")
	// ErrProxyReadOnly: a push to a pull-through cache repository.
	ErrProxyReadOnly = errors.New("repository is a pull-through cache")
)

// Upstream is a pull-through source for repositories this registry does
// not hold itself; internal/proxy implements it. The service asks it only
// for what its cache repository lacks: cached content is in the ordinary
// stores and served like pushed content.
type Upstream interface {
	// Route maps a repository name as a client requested it, with the
	// request's ?ns= namespace ("" when none), to the upstream serving it.
	Route(repo, ns string) (ProxyRoute, bool)
	// ServesNamespace reports whether an upstream stands for namespace ns.
	ServesNamespace(ns string) bool
	// Manifest returns manifest ref of the route, from the cache when it
	// is there (and, for a tag, fresh), else from the upstream, caching it.
	Manifest(ctx context.Context, r ProxyRoute, ref string) (*meta.Manifest, error)
	// StatBlob asks the upstream about a blob the cache lacks.
	StatBlob(ctx context.Context, r ProxyRoute, dgst digest.Digest) (meta.Blob, error)
	// FetchBlob returns a blob the cache lacks, streamed from the upstream
	// while it is being cached.
	FetchBlob(ctx context.Context, r ProxyRoute, dgst digest.Digest) (*BlobContent, error)
	// BlobHit records a blob served from the cache.
	BlobHit(r ProxyRoute)
}

// ProxyRoute is where a proxied repository's content comes from and is kept.
type ProxyRoute struct {
	// Upstream is the upstream's name.
	Upstream string
	// Repo is the local repository holding the cache (the upstream's
	// project prefix and Remote).
	Repo string
	// Remote is the repository's name at the upstream.
	Remote string
	// Fallback routes (mirror mode) apply only to names that do not exist
	// locally: a name that exists locally is served locally.
	Fallback bool
}

type namespaceKey struct{}

// WithNamespace records the source host a client named with ?ns= (the
// distribution spec's "Registry Proxying"): it selects the upstream.
func WithNamespace(ctx context.Context, ns string) context.Context {
	if ns == "" {
		return ctx
	}
	return context.WithValue(ctx, namespaceKey{}, ns)
}

func namespace(ctx context.Context) string {
	ns, _ := ctx.Value(namespaceKey{}).(string)
	return ns
}

// ProxiesNamespace reports whether ns selects an upstream, so that the
// response names it in OCI-Namespace.
func (s *Service) ProxiesNamespace(ns string) bool {
	return s.opts.Upstream != nil && ns != "" && s.opts.Upstream.ServesNamespace(ns)
}

// proxyRoute returns the route of a pull of repo, if an upstream serves it.
func (s *Service) proxyRoute(ctx context.Context, repo string) (ProxyRoute, bool) {
	up := s.opts.Upstream
	if up == nil {
		return ProxyRoute{}, false
	}
	r, ok := up.Route(repo, namespace(ctx))
	if !ok {
		return r, false
	}
	if r.Fallback {
		if exists, err := s.meta.RepositoryExists(ctx, repo); err != nil || exists {
			return r, false
		}
	}
	return r, true
}

// ProxyRepo returns the local repository a pull of repo reads when an
// upstream serves it (the cache repository), for access control.
func (s *Service) ProxyRepo(ctx context.Context, repo string) (string, bool) {
	r, ok := s.proxyRoute(ctx, repo)
	return r.Repo, ok
}

// checkWritable refuses pushes to a pull-through cache repository: its
// content is what the upstream has, and a push would hide the upstream's.
func (s *Service) checkWritable(repo string) error {
	if s.opts.Upstream == nil {
		return nil
	}
	if r, ok := s.opts.Upstream.Route(repo, ""); ok && !r.Fallback {
		return fmt.Errorf("%w: %s caches upstream %s; push to a repository outside %s/",
			ErrProxyReadOnly, repo, r.Upstream, strings.TrimSuffix(r.Repo, "/"+r.Remote))
	}
	return nil
}

// Warnings collects the warnings of one request, for Warning headers.
type Warnings struct {
	mu   sync.Mutex
	list []string
}

type warningsKey struct{}

// WithWarnings returns a context that collects warnings (AddWarning) and
// the collector to read them from.
func WithWarnings(ctx context.Context) (context.Context, *Warnings) {
	w := &Warnings{}
	return context.WithValue(ctx, warningsKey{}, w), w
}

// AddWarning records a warning for the client, if ctx collects them.
func AddWarning(ctx context.Context, msg string) {
	if w, ok := ctx.Value(warningsKey{}).(*Warnings); ok {
		w.mu.Lock()
		w.list = append(w.list, msg)
		w.mu.Unlock()
	}
}

// List returns the warnings recorded so far.
func (w *Warnings) List() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}
