// Package registry is the service layer of the OCI Distribution API: every
// push, pull, list and delete operation, with its checks, independent of
// HTTP. It combines the metadata store (what exists, where) with the blob
// store (the bytes). Handlers call exactly one method per request.
package registry

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/storage"
)

// Sentinel errors of the service; the API maps each to an OCI error code.
var (
	ErrNameUnknown         = errors.New("repository name not known to registry")
	ErrBlobUnknown         = errors.New("blob unknown to registry")
	ErrUploadUnknown       = errors.New("blob upload unknown to registry")
	ErrUploadInvalid       = errors.New("blob upload invalid")
	ErrUploadBusy          = errors.New("blob upload is being written by another request")
	ErrDigestInvalid       = errors.New("digest invalid")
	ErrSizeInvalid         = errors.New("size invalid")
	ErrRangeInvalid        = errors.New("range not satisfiable")
	ErrManifestUnknown     = errors.New("manifest unknown to registry")
	ErrManifestInvalid     = errors.New("manifest invalid")
	ErrManifestBlobUnknown = errors.New("manifest references unknown content")
	ErrManifestTooLarge    = errors.New("manifest too large")
	ErrTagInvalid          = errors.New("tag invalid")
	ErrUnsupported         = errors.New("operation unsupported")
)

// Options tune the service.
type Options struct {
	// MaxManifestSize is the largest manifest accepted, in bytes.
	MaxManifestSize int64
	// DeleteEnabled allows deleting manifests, tags and blobs.
	DeleteEnabled bool
	// CacheBytes bounds the in-memory manifest cache (0: no cache). With
	// several instances on one store it is used while FollowCache runs.
	CacheBytes int64
	// SingleInstance: this process is the only one using the metadata
	// store (SQLite). Tags are then cached too, and upload sessions are
	// guarded by an in-process lock alone, without store leases.
	SingleInstance bool
	// RedirectExpiry, when not zero, makes blob downloads redirects to
	// the storage driver's presigned URLs (drivers that can), valid this long.
	RedirectExpiry time.Duration
	// UploadLease is how long an instance's lease on an upload session
	// lasts (renewed while it writes): a session whose writer died is
	// writable again after this long. Default one minute.
	UploadLease time.Duration
	// UploadMaxAge: an upload session never written for this long is
	// dropped (garbage collection's upload_max_age). Default one day.
	UploadMaxAge time.Duration
	// LinkRenewAfter: a blob HEAD that finds the repository's link to the
	// blob older than this renews it (one write), so garbage collection
	// cannot delete the link between a client's HEAD, which told it to
	// skip the upload, and its manifest push. Half the GC grace period
	// leaves the client at least that long; 0 never renews.
	LinkRenewAfter time.Duration
	// MaxUploadsPerRepository and MaxUploadsPerClient cap the open upload
	// sessions this instance holds for one repository and for one client
	// (WithClient); 0: no cap.
	MaxUploadsPerRepository int
	MaxUploadsPerClient     int
	// EmptyUploadTTL: a session no request wrote to for this long is
	// discarded. Default 15 minutes.
	EmptyUploadTTL time.Duration
	// Upstream, when set, serves pulls of proxied repositories that are
	// not cached yet (the pull-through cache, internal/proxy).
	Upstream Upstream
	// Policy, when not nil, enforces project quotas and tag immutability
	// on pushes and deletes.
	Policy *policy.Engine
	// PullGates are consulted, in order, before a manifest is served
	// (gate.go).
	PullGates []PullGate
	// OnPush are called after a manifest push committed, in order, on the
	// pushing request's goroutine: they must only enqueue work (scan on
	// push, signature verification). In-process and not durable: work
	// that must survive a crash also needs a catch-up pass (or the event
	// outbox).
	OnPush []func(ctx context.Context, m *meta.Manifest, tags []string)
	// OnPull are called after a manifest download (GET, not HEAD) of a
	// local repository was allowed, with the reference asked for (a tag
	// or the digest), on the request's goroutine: like OnPush, they must
	// be quick (the opt-in pull events).
	OnPull []func(ctx context.Context, m *meta.Manifest, ref string)
}

// Service implements the registry operations.
type Service struct {
	meta  meta.Store
	blobs *storage.Blobs
	opts  Options
	log   *slog.Logger
	cache *cache // nil when disabled

	// uploadLocks serialises requests on one upload session within this
	// process; the session's lease in the metadata store, held by owner,
	// serialises them across processes.
	uploadLocks sync.Map // id -> *sync.Mutex
	owner       string   // this instance's lease owner id, random
	// pending holds sessions without bytes in memory (SingleInstance only).
	pending *pendingUploads
	// sessions counts open sessions for the caps and expires unused ones.
	sessions *sessions
	// pulls gathers manifest downloads for the statistics.
	pulls pullCounter
}

// New returns a service over a metadata store and a blob store.
func New(m meta.Store, b *storage.Blobs, opts Options, log *slog.Logger) *Service {
	if opts.MaxManifestSize <= 0 {
		opts.MaxManifestSize = 4 << 20
	}
	if opts.UploadLease <= 0 {
		opts.UploadLease = time.Minute
	}
	if opts.UploadMaxAge <= 0 {
		opts.UploadMaxAge = 24 * time.Hour
	}
	if opts.EmptyUploadTTL <= 0 {
		opts.EmptyUploadTTL = 15 * time.Minute
	}
	s := &Service{meta: m, blobs: b, opts: opts, log: log, owner: newUploadID(),
		sessions: newSessions(opts.MaxUploadsPerRepository, opts.MaxUploadsPerClient, opts.EmptyUploadTTL, opts.UploadMaxAge)}
	if opts.SingleInstance {
		// Pending sessions hold no bytes: they expire as unused ones do.
		s.pending = newPendingUploads(maxPendingUploads, opts.EmptyUploadTTL)
	}
	if opts.CacheBytes > 0 {
		// Shared by several instances, the cache waits for FollowCache.
		s.cache = newCache(opts.CacheBytes, true, opts.SingleInstance)
	}
	return s
}

// MaxManifestSize is the largest manifest the service accepts.
func (s *Service) MaxManifestSize() int64 { return s.opts.MaxManifestSize }
