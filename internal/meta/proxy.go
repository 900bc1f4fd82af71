package meta

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// CachedManifest is a manifest of a pull-through cache repository with
// when it was last pulled (its caching time if never pulled since).
type CachedManifest struct {
	Repository string
	Digest     digest.Digest
	PulledAt   time.Time
}

// ProxyStore is the bookkeeping of the pull-through cache (internal/proxy).
// Cached content lives in ordinary repositories (under an upstream's
// project prefix), so listings, pulls by digest and garbage collection
// treat it like pushed content; these methods add what a cache needs:
// manifests stored before their blobs, when a tag was last checked with
// the upstream, when a manifest was last pulled, and eviction.
type ProxyStore interface {
	// PutCachedManifest stores a manifest fetched from an upstream and
	// points tags at it, marking those tags checked and the manifest pulled
	// at now. Unlike PutManifest it does not require the referenced blobs
	// and child manifests: a cache fetches them when they are pulled.
	PutCachedManifest(ctx context.Context, m *Manifest, tags []string, now time.Time) error
	// CachedTag returns the digest a tag points at and when it was last
	// checked with the upstream (the zero time if never). ErrNotFound when
	// the tag does not exist.
	CachedTag(ctx context.Context, repo, tag string) (digest.Digest, time.Time, error)
	// MarkTagChecked records that the upstream confirmed the tag at t.
	MarkTagChecked(ctx context.Context, repo, tag string, t time.Time) error
	// MarkPulled records a pull of a manifest at t.
	MarkPulled(ctx context.Context, repo string, dgst digest.Digest, t time.Time) error
	// CacheUsage returns the bytes of the distinct blobs and the manifests
	// held by the repositories whose names start with prefix + "/".
	CacheUsage(ctx context.Context, prefix string) (int64, error)
	// LeastRecentlyPulled lists the manifests of the repositories under
	// prefix + "/" last pulled before before, least recently pulled
	// first, at most n.
	LeastRecentlyPulled(ctx context.Context, prefix string, before time.Time, n int) ([]CachedManifest, error)
	// EvictManifest removes a manifest with its tags, and the repository's
	// links to the blobs no other manifest of the repository references,
	// in one transaction. The bytes stay until garbage collection.
	EvictManifest(ctx context.Context, repo string, dgst digest.Digest) error
}
