// Package policy holds Berth's per-project storage policies:
//
//   - tag immutability: tags matching a rule cannot be moved or deleted;
//   - quotas: storage bytes (each blob counted once per project) and
//     counts of repositories and manifests, checked before a push streams
//     its bytes;
//   - retention: rules that say which tags to keep; the others are
//     deleted when retention runs (by hand, from the CLI or on a schedule).
//
// A project is the first path component of a repository name
// (team-a/app/api is in project team-a; a one-component name is its own
// project). Rules are stored by project name in the metadata store
// (meta.PolicyStore), so they work with or without a projects table.
//
// Engine is what the registry service consults on pushes and deletes;
// Retention runs retention rules; Collector exports usage and quotas to
// Prometheus.
package policy

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Sentinel errors. ErrQuotaExceeded and ErrTagImmutable are DENIED for
// clients; ErrInvalid is a bad request and ErrNotFound a 404 in the
// management API.
var (
	ErrQuotaExceeded = errors.New("quota exceeded")
	ErrTagImmutable  = errors.New("tag is immutable")
	ErrInvalid       = errors.New("invalid policy")
	ErrNotFound      = errors.New("not found")
	// ErrBusy: a retention run of the project is already in progress.
	ErrBusy = errors.New("busy")
)

// ProjectOf returns the project of a repository: its first path component.
func ProjectOf(repo string) string {
	p, _, _ := strings.Cut(repo, "/")
	return p
}

// relative returns a repository's name within its project ("" for the
// repository named like the project), what repository patterns match.
func relative(repo string) string {
	_, rest, _ := strings.Cut(repo, "/")
	return rest
}

// Options tune the engine.
type Options struct {
	// UsageCache is how long a quota check may reuse a project's usage,
	// and its quota, before reading them again. A check whose answer would be a refusal,
	// or that comes near a limit, always computes it afresh. 0: always.
	UsageCache time.Duration
	// UntaggedGrace: retention never deletes an untagged manifest pushed
	// less than this long ago (it may be the child of an index whose push
	// is in progress).
	UntaggedGrace time.Duration
	// QuotaUsage, when set, is told each storage addition a quota check
	// decided on: a project's usage before and after it, and its storage
	// limit (after > limit: refused). It must not block (the event
	// outbox records quota warnings from it).
	QuotaUsage func(ctx context.Context, project string, before, after, limit int64)
}

// Engine enforces the policies on pushes and deletes.
type Engine struct {
	store meta.Store
	opts  Options
	log   *slog.Logger
	now   func() time.Time

	mu     sync.Mutex
	usage  map[string]*cachedUsage // by project
	quotas map[string]cachedQuota  // by project

	shown shownUsage // usage for display (RecentUsage)
}

// New returns an engine over the metadata store.
func New(store meta.Store, opts Options, log *slog.Logger) *Engine {
	return &Engine{store: store, opts: opts, log: log, now: time.Now, usage: map[string]*cachedUsage{}, quotas: map[string]cachedQuota{}}
}

// Store is the metadata store the engine reads.
func (e *Engine) Store() meta.Store { return e.store }
