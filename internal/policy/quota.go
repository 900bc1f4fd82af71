package policy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Names of the limits of a quota, as errors and the API name them.
const (
	LimitStorage      = "storage"
	LimitRepositories = "repositories"
	LimitManifests    = "manifests"
)

// QuotaError refuses a push that would exceed a project's quota; its
// message names the quota and its figures.
type QuotaError struct {
	Project string
	Limit   string // LimitStorage, LimitRepositories or LimitManifests
	Max     int64  // the quota
	Used    int64  // the project's usage
	Adding  int64  // what the push adds (0: the project is already at its quota)
	// AtLeast: the push was stopped while it streamed, after Adding
	// bytes; it adds more.
	AtLeast bool
}

func (e *QuotaError) Error() string {
	if e.Limit == LimitStorage {
		if e.Adding <= 0 {
			return fmt.Sprintf("project %s is at its storage quota: %s used of %s; delete images or ask for a larger quota",
				e.Project, HumanBytes(e.Used), HumanBytes(e.Max))
		}
		adds := "adds"
		if e.AtLeast {
			adds = "adds more than"
		}
		return fmt.Sprintf("project %s storage quota exceeded: %s used of %s, this push %s %s",
			e.Project, HumanBytes(e.Used), HumanBytes(e.Max), adds, HumanBytes(e.Adding))
	}
	return fmt.Sprintf("project %s %s quota exceeded: %d of %d used, this push adds %d",
		e.Project, e.Limit, e.Used, e.Max, e.Adding)
}

// Unwrap makes errors.Is(err, ErrQuotaExceeded) true.
func (e *QuotaError) Unwrap() error { return ErrQuotaExceeded }

// HumanBytes formats a size in binary units with the exact count, e.g.
// "10.0 MiB (10485760 bytes)".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}

// Addition is what a push adds to a repository's project.
type Addition struct {
	Repo string
	// Digest is the blob or manifest added, when known: content the
	// project already holds adds no bytes.
	Digest digest.Digest
	// Bytes is its size. 0 when not known yet (an upload starts, a body
	// of unknown length): then the project must only be below its
	// storage quota.
	Bytes int64
	// Manifest: the addition is a manifest, which counts towards the
	// manifest limit unless the repository has it already.
	Manifest bool
}

// Budget is a project's storage allowance at the time of a check, for a
// body whose length was not known: it may stream Remaining bytes.
type Budget struct {
	Project string
	Limit   int64 // < 0: no storage limit
	Used    int64
}

// Remaining is how many more bytes the project may take; < 0: no limit.
func (b Budget) Remaining() int64 {
	if b.Limit < 0 {
		return -1
	}
	return max(b.Limit-b.Used, 0)
}

// Exceeded is the error for a body stopped after adding bytes, with more
// to come.
func (b Budget) Exceeded(adding int64) error {
	return &QuotaError{Project: b.Project, Limit: LimitStorage, Max: b.Limit, Used: b.Used, Adding: adding, AtLeast: true}
}

// cachedUsage is a project's usage as last computed, and what checks
// admitted since.
type cachedUsage struct {
	at      time.Time
	u       meta.Usage
	pending meta.Usage // bytes, repositories, manifests admitted since
}

// Admit checks a push against its project's quota, before the push
// streams anything: a *QuotaError when it would exceed a limit. Projects
// without a quota cost one indexed lookup.
func (e *Engine) Admit(ctx context.Context, a Addition) (Budget, error) {
	retry := e.opts.UsageCache > 0
	b, err := e.admit(ctx, a, !retry)
	if errors.Is(err, ErrQuotaExceeded) && retry {
		// A refusal is decided on the quota as stored now, too (another
		// instance may have raised it).
		e.forgetQuota(ProjectOf(a.Repo))
		b, err = e.admit(ctx, a, true)
	}
	return b, err
}

// admit decides on an addition; final says a refusal is the last word
// (reported to Options.QuotaUsage; an admission always is).
func (e *Engine) admit(ctx context.Context, a Addition, final bool) (Budget, error) {
	project := ProjectOf(a.Repo)
	q, ok, err := e.quota(ctx, project)
	if err != nil {
		return Budget{}, err
	}
	if !ok {
		return Budget{Project: project, Limit: -1}, nil
	}
	var add meta.Usage // what this push adds
	storage := q.StorageBytes >= 0
	if storage && a.Digest != "" {
		held, err := e.store.InProject(ctx, project, a.Digest)
		if err != nil {
			return Budget{}, err
		}
		storage = !held
	}
	if storage {
		add.StorageBytes = max(a.Bytes, 0)
	}
	if q.Repositories >= 0 {
		ok, err := e.store.RepositoryExists(ctx, a.Repo)
		if err != nil {
			return Budget{}, err
		}
		if !ok {
			add.Repositories = 1
		}
	}
	if q.Manifests >= 0 && a.Manifest {
		_, err := e.store.Manifest(ctx, a.Repo, a.Digest)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			add.Manifests = 1
		case err != nil:
			return Budget{}, err
		}
	}
	if !storage && add.Repositories == 0 && add.Manifests == 0 {
		return Budget{Project: project, Limit: -1}, nil // adds nothing limited
	}

	// First against the cached usage; a refusal is only ever decided on a
	// fresh one.
	e.mu.Lock()
	c := e.usage[project]
	if c != nil && e.now().Sub(c.at) < e.opts.UsageCache {
		used := sum(c.u, c.pending)
		if exceeded(q, used, add, storage) == nil {
			e.admitted(c, a, add)
			e.mu.Unlock()
			e.usageChanged(ctx, a, project, used.StorageBytes, add.StorageBytes, q.StorageBytes)
			return Budget{Project: project, Limit: q.StorageBytes, Used: used.StorageBytes}, nil
		}
	}
	e.mu.Unlock()

	u, err := e.store.ProjectUsage(ctx, project)
	if err != nil {
		return Budget{}, err
	}
	e.mu.Lock()
	c = &cachedUsage{at: e.now(), u: u}
	e.usage[project] = c
	if err := exceeded(q, u, add, storage); err != nil {
		e.mu.Unlock()
		if final {
			e.usageChanged(ctx, a, project, u.StorageBytes, add.StorageBytes, q.StorageBytes)
		}
		return Budget{}, err
	}
	e.admitted(c, a, add)
	e.mu.Unlock()
	e.usageChanged(ctx, a, project, u.StorageBytes, add.StorageBytes, q.StorageBytes)
	return Budget{Project: project, Limit: q.StorageBytes, Used: u.StorageBytes}, nil
}

// usageChanged reports a finished blob's or manifest's storage to
// Options.QuotaUsage (the quota events): used before it, and after it
// (over limit when the addition was refused).
func (e *Engine) usageChanged(ctx context.Context, a Addition, project string, used, add, limit int64) {
	if e.opts.QuotaUsage != nil && a.Digest != "" && add > 0 && limit >= 0 {
		e.opts.QuotaUsage(ctx, project, used, used+add, limit)
	}
}

// admitted counts an identified addition (a finished blob or a manifest)
// in the cached usage until it is computed again. Checks of upload chunks
// are not counted: their bytes count once the blob is complete.
func (e *Engine) admitted(c *cachedUsage, a Addition, add meta.Usage) {
	if a.Digest != "" {
		c.pending = sum(c.pending, add)
	}
}

func sum(a, b meta.Usage) meta.Usage {
	return meta.Usage{StorageBytes: a.StorageBytes + b.StorageBytes, Repositories: a.Repositories + b.Repositories,
		Manifests: a.Manifests + b.Manifests}
}

// exceeded checks used + add against the quota's limits.
func exceeded(q meta.Quota, used, add meta.Usage, storage bool) error {
	if storage {
		over := used.StorageBytes+add.StorageBytes > q.StorageBytes
		if add.StorageBytes == 0 {
			over = used.StorageBytes >= q.StorageBytes // starting: at the quota is full
		}
		if over {
			return &QuotaError{Project: q.Project, Limit: LimitStorage, Max: q.StorageBytes, Used: used.StorageBytes, Adding: add.StorageBytes}
		}
	}
	if add.Repositories > 0 && q.Repositories >= 0 && used.Repositories+add.Repositories > q.Repositories {
		return &QuotaError{Project: q.Project, Limit: LimitRepositories, Max: q.Repositories, Used: used.Repositories, Adding: add.Repositories}
	}
	if add.Manifests > 0 && q.Manifests >= 0 && used.Manifests+add.Manifests > q.Manifests {
		return &QuotaError{Project: q.Project, Limit: LimitManifests, Max: q.Manifests, Used: used.Manifests, Adding: add.Manifests}
	}
	return nil
}

// Released tells the engine that content of repo was deleted: its
// project's next quota check computes the usage afresh.
func (e *Engine) Released(repo string) {
	e.mu.Lock()
	delete(e.usage, ProjectOf(repo))
	e.mu.Unlock()
}

// Quota returns a project's quota; ErrNotFound when it has none.
func (e *Engine) Quota(ctx context.Context, project string) (meta.Quota, error) {
	if err := ValidProject(project); err != nil {
		return meta.Quota{}, err
	}
	q, err := e.store.Quota(ctx, project)
	return q, notFound(err)
}

// SetQuota validates and stores a project's quota.
func (e *Engine) SetQuota(ctx context.Context, q meta.Quota) error {
	if err := ValidProject(q.Project); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		v    int64
	}{{LimitStorage, q.StorageBytes}, {LimitRepositories, q.Repositories}, {LimitManifests, q.Manifests}} {
		if l.v < meta.Unlimited {
			return fmt.Errorf("%w: %s limit %d: use -1 for no limit", ErrInvalid, l.name, l.v)
		}
	}
	if err := e.store.SetQuota(ctx, q); err != nil {
		return err
	}
	e.Released(q.Project)
	e.forgetQuota(q.Project)
	return nil
}

// DeleteQuota removes a project's quota.
func (e *Engine) DeleteQuota(ctx context.Context, project string) error {
	if err := ValidProject(project); err != nil {
		return err
	}
	err := e.store.DeleteQuota(ctx, project)
	e.forgetQuota(project)
	return notFound(err)
}

// maxCachedQuotas bounds the quota cache; past it, the cache starts over.
const maxCachedQuotas = 10000

// cachedQuota is a project's quota as last read (none: it has none).
type cachedQuota struct {
	at   time.Time
	q    meta.Quota
	none bool
}

// quota returns a project's quota (ok false: it has none), as read within
// the usage cache window: every push request checks it, and quotas change
// rarely. Changes through this instance are seen at once, another
// instance's within the window.
func (e *Engine) quota(ctx context.Context, project string) (meta.Quota, bool, error) {
	e.mu.Lock()
	c, hit := e.quotas[project]
	e.mu.Unlock()
	if hit && e.now().Sub(c.at) < e.opts.UsageCache {
		return c.q, !c.none, nil
	}
	q, err := e.store.Quota(ctx, project)
	none := errors.Is(err, meta.ErrNotFound)
	if err != nil && !none {
		return meta.Quota{}, false, err
	}
	if e.opts.UsageCache > 0 {
		e.mu.Lock()
		if len(e.quotas) >= maxCachedQuotas {
			clear(e.quotas)
		}
		e.quotas[project] = cachedQuota{at: e.now(), q: q, none: none}
		e.mu.Unlock()
	}
	return q, !none, nil
}

// forgetQuota drops a project's cached quota.
func (e *Engine) forgetQuota(project string) {
	e.mu.Lock()
	delete(e.quotas, project)
	e.mu.Unlock()
}

// ProjectUsage computes a project's usage exactly.
func (e *Engine) ProjectUsage(ctx context.Context, project string) (meta.Usage, error) {
	if err := ValidProject(project); err != nil {
		return meta.Usage{}, err
	}
	return e.store.ProjectUsage(ctx, project)
}

// RepositoryUsage is one repository's usage.
type RepositoryUsage struct {
	Name  string
	Usage meta.Usage
}

// RepositoryUsages computes the usage of a project's repositories after
// last, at most n, and whether more follow.
func (e *Engine) RepositoryUsages(ctx context.Context, project, last string, n int) ([]RepositoryUsage, bool, error) {
	if err := ValidProject(project); err != nil {
		return nil, false, err
	}
	names, err := e.store.ProjectRepositories(ctx, project, last, n+1)
	if err != nil {
		return nil, false, err
	}
	more := len(names) > n
	if more {
		names = names[:n]
	}
	out := make([]RepositoryUsage, 0, len(names))
	for _, name := range names {
		u, err := e.store.RepositoryUsage(ctx, name)
		if err != nil {
			return nil, false, err
		}
		out = append(out, RepositoryUsage{Name: name, Usage: u})
	}
	return out, more, nil
}
