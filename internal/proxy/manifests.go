package proxy

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Manifest implements registry.Upstream. By digest the cache answers once
// it has the manifest; by tag it answers alone while the tag is younger
// than the upstream's manifest_ttl, then asks the upstream with a HEAD
// whether the tag moved. When the upstream fails, a cached tag is served
// stale with a warning.
func (p *Proxy) Manifest(ctx context.Context, r registry.ProxyRoute, ref string) (*meta.Manifest, error) {
	u, err := p.upstream(r)
	if err != nil {
		return nil, err
	}
	want, isDigest, err := registry.LookupReference(ref)
	if err != nil {
		return nil, err // never sent upstream
	}
	if isDigest {
		m, err := p.meta.Manifest(ctx, r.Repo, want)
		if err == nil {
			u.stats.manifestHits.Add(1)
			p.markPulled(ctx, r.Repo, want)
			return m, nil
		}
		if !errors.Is(err, meta.ErrNotFound) {
			return nil, err
		}
		return p.fetchManifest(ctx, u, r, ref)
	}
	cached, checked, err := p.meta.CachedTag(ctx, r.Repo, ref)
	if errors.Is(err, meta.ErrNotFound) {
		// Never cached: one GET by tag, no HEAD first.
		return p.fetchManifest(ctx, u, r, ref)
	}
	if err != nil {
		return nil, err
	}
	now := p.now()
	if now.Sub(checked) < u.cfg.ManifestTTL {
		return p.cachedManifest(ctx, u, r, cached)
	}
	v, err, _ := p.manifests.Do("head "+r.Repo+":"+ref, func() (any, error) {
		return u.c.headManifest(detach(ctx), r.Remote, ref)
	})
	if err != nil {
		if errors.Is(err, errNotFound) {
			// The upstream is up and says the tag is gone: believe it,
			// but keep the cached copy (pullable by digest).
			u.stats.fail(err.Error(), now)
			return nil, fmt.Errorf("%w: %v", registry.ErrManifestUnknown, err)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		u.stats.manifestStale.Add(1)
		u.stats.fail(err.Error(), now)
		age := now.Sub(checked).Round(1e9)
		p.log.WarnContext(ctx, "proxy: upstream failed, serving a stale tag", "upstream", u.cfg.Name,
			"repo", r.Repo, "tag", ref, "checked_ago", age.String(), "error", err)
		registry.AddWarning(ctx, fmt.Sprintf("upstream %s is unavailable; %s:%s is served from the cache, last checked %s ago",
			u.cfg.Name, r.Remote, ref, age))
		m, err := p.meta.Manifest(ctx, r.Repo, cached)
		if err != nil {
			return nil, err
		}
		p.markPulled(ctx, r.Repo, cached)
		return m, nil
	}
	d := v.(digest.Digest)
	if d == cached {
		if err := p.meta.MarkTagChecked(context.WithoutCancel(ctx), r.Repo, ref, now); err != nil {
			p.log.WarnContext(ctx, "proxy: recording a tag check", "repo", r.Repo, "tag", ref, "error", err)
		}
		return p.cachedManifest(ctx, u, r, cached)
	}
	// The tag moved. The new manifest may be cached already (by digest).
	if m, err := p.meta.Manifest(ctx, r.Repo, d); err == nil {
		if err := p.meta.PutCachedManifest(context.WithoutCancel(ctx), m, []string{ref}, now); err != nil {
			return nil, err
		}
		u.stats.manifestHits.Add(1)
		return m, nil
	}
	return p.fetchManifest(ctx, u, r, ref)
}

func (p *Proxy) cachedManifest(ctx context.Context, u *upstream, r registry.ProxyRoute, d digest.Digest) (*meta.Manifest, error) {
	m, err := p.meta.Manifest(ctx, r.Repo, d)
	if err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, fmt.Errorf("%w: %s", registry.ErrManifestUnknown, d)
		}
		return nil, err
	}
	u.stats.manifestHits.Add(1)
	p.markPulled(ctx, r.Repo, d)
	return m, nil
}

// fetchManifest downloads a manifest by tag or digest and caches it (with
// the tag). Concurrent requests for the same reference share the download.
func (p *Proxy) fetchManifest(ctx context.Context, u *upstream, r registry.ProxyRoute, ref string) (*meta.Manifest, error) {
	v, err, shared := p.manifests.Do("get "+r.Repo+"@"+ref, func() (any, error) {
		return p.downloadManifest(detach(ctx), u, r, ref)
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !shared {
			u.stats.fail(err.Error(), p.now())
		}
		return nil, unknownErr(registry.ErrManifestUnknown, err)
	}
	u.stats.manifestMisses.Add(1)
	return v.(*meta.Manifest), nil
}

func (p *Proxy) downloadManifest(ctx context.Context, u *upstream, r registry.ProxyRoute, ref string) (*meta.Manifest, error) {
	body, mediaType, err := u.c.getManifest(ctx, r.Remote, ref)
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > p.opts.MaxManifestSize {
		return nil, fmt.Errorf("%w: upstream %s: manifest of %d bytes exceeds the limit of %d",
			registry.ErrManifestTooLarge, u.cfg.Name, len(body), p.opts.MaxManifestSize)
	}
	var tags []string
	dgst := oci.FromBytes(body)
	if d, err := oci.ParseDigest(ref); err == nil {
		dgst = d // remote verified the bytes against it
	} else {
		tags = []string{ref}
	}
	m, err := registry.ParseManifest(mediaType, body)
	if err != nil {
		return nil, fmt.Errorf("upstream %s sent a manifest Berth cannot cache: %w", u.cfg.Name, err)
	}
	m.Repository, m.Digest = r.Repo, dgst
	if err := p.meta.PutCachedManifest(ctx, m, tags, p.now()); err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "proxy: cached a manifest", "upstream", u.cfg.Name, "repo", r.Repo, "ref", ref, "digest", dgst.String())
	return m, nil
}

// unknownErr reports a failure of the upstream for something never cached
// as not found, with a message naming the upstream and its problem: a 4xx,
// because Docker, podman and skopeo print the message of a 4xx and hide
// that of a 5xx. A rate limit stays a 429.
func unknownErr(notFound, err error) error {
	if errors.Is(err, errNotFound) || errors.Is(err, registry.ErrUpstreamUnavailable) {
		return fmt.Errorf("%w: %w", notFound, err)
	}
	return err
}

// detach keeps a shared upstream request going when the client that
// started it goes away: others may be waiting for it. The client timeout
// bounds it.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
