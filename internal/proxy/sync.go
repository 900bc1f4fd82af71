package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Scheduled mirroring (pull replication): the repositories an upstream's
// sync rules name are brought into the cache ahead of any pull, every
// sync_interval, on one instance (a jobs.Job per upstream). A run lists
// the repository's tags, keeps those the rule selects, and for each one
// asks the upstream for its digest (HEAD); a tag whose cached copy is
// current costs nothing more, a new or moved one is fetched with
// everything it references (every platform of an index), through the same
// downloads as pulls.

// EvictJob is the name of the job enforcing the cache limits.
const EvictJob = "proxy-evict"

// SyncJob names the sync job of an upstream.
func SyncJob(upstream string) string { return "proxy-sync-" + upstream }

// Jobs returns the proxy's background jobs: cache limits, and one sync
// job per upstream that has sync rules. None without upstreams.
func (p *Proxy) Jobs() []jobs.Job {
	if len(p.ups) == 0 {
		return nil
	}
	out := []jobs.Job{{
		Name:     EvictJob,
		Interval: p.opts.Config.EvictionInterval,
		Run: func(ctx context.Context, _ *jobs.Run) (string, error) {
			p.EnforceLimits(ctx)
			return "", ctx.Err()
		},
	}}
	for _, u := range p.ups {
		if len(u.cfg.Sync) == 0 {
			continue
		}
		name := u.cfg.Name
		out = append(out, jobs.Job{
			Name:     SyncJob(name),
			Interval: u.cfg.SyncInterval,
			Run: func(ctx context.Context, _ *jobs.Run) (string, error) {
				rep, err := p.Sync(ctx, name)
				b, _ := json.Marshal(rep)
				return string(b), err
			},
		})
	}
	return out
}

// SyncReport is the result of one sync run of an upstream.
type SyncReport struct {
	Upstream     string           `json:"upstream"`
	Started      time.Time        `json:"started"`
	Finished     time.Time        `json:"finished"`
	Repositories []RepoSyncReport `json:"repositories"`
	// Updated, Unchanged and Failed count tags over all repositories;
	// Failed also counts repositories whose tags could not be listed.
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Failed    int `json:"failed"`
}

// RepoSyncReport is one rule's result.
type RepoSyncReport struct {
	Repository string          `json:"repository"` // at the upstream
	Cache      string          `json:"cache"`      // the local repository
	Selected   int             `json:"selected"`   // tags the rule selected
	Tags       []TagSyncReport `json:"tags"`
	Error      string          `json:"error,omitempty"` // listing the tags failed
}

// TagSyncReport is one tag's result: "updated" (fetched), "unchanged"
// (the cached copy is current), or "failed" with the error.
type TagSyncReport struct {
	Tag    string        `json:"tag"`
	Digest digest.Digest `json:"digest,omitempty"`
	Status string        `json:"status"`
	Error  string        `json:"error,omitempty"`
}

// Sync runs the sync rules of one upstream now. The report says what
// happened to every selected tag; the error is not nil when anything failed.
func (p *Proxy) Sync(ctx context.Context, upstream string) (*SyncReport, error) {
	u := p.byName[upstream]
	if u == nil {
		return nil, fmt.Errorf("proxy: no upstream %q", upstream)
	}
	rep := &SyncReport{Upstream: upstream, Started: p.now().UTC(), Repositories: []RepoSyncReport{}}
	var failures []string
	for _, rule := range u.cfg.Sync {
		r := u.route(rule.Repository, false)
		rr := RepoSyncReport{Repository: r.Remote, Cache: r.Repo, Tags: []TagSyncReport{}}
		tags, err := u.c.listTags(ctx, r.Remote)
		if err == nil {
			tags, err = SelectTags(rule, tags)
		}
		if err != nil {
			rr.Error = err.Error()
			rep.Failed++
			failures = append(failures, r.Remote+": "+err.Error())
			rep.Repositories = append(rep.Repositories, rr)
			continue
		}
		rr.Selected = len(tags)
		for _, tag := range tags {
			if ctx.Err() != nil {
				break
			}
			d, updated, err := p.syncTag(ctx, u, r, tag)
			tr := TagSyncReport{Tag: tag, Digest: d, Status: "unchanged"}
			switch {
			case err != nil:
				tr.Status, tr.Error = "failed", err.Error()
				rep.Failed++
				failures = append(failures, r.Remote+":"+tag+": "+err.Error())
			case updated:
				tr.Status = "updated"
				rep.Updated++
			default:
				rep.Unchanged++
			}
			rr.Tags = append(rr.Tags, tr)
		}
		rep.Repositories = append(rep.Repositories, rr)
	}
	rep.Finished = p.now().UTC()
	p.log.InfoContext(ctx, "proxy: sync run", "upstream", upstream, "updated", rep.Updated,
		"unchanged", rep.Unchanged, "failed", rep.Failed, "duration", rep.Finished.Sub(rep.Started).String())
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	if len(failures) > 0 {
		return rep, fmt.Errorf("sync of upstream %s: %d failures, first: %s", upstream, len(failures), failures[0])
	}
	return rep, nil
}

// syncTag brings one tag and everything it references into the cache.
// updated reports whether the tag's manifest had to be fetched.
func (p *Proxy) syncTag(ctx context.Context, u *upstream, r registry.ProxyRoute, tag string) (digest.Digest, bool, error) {
	d, err := u.c.headManifest(ctx, r.Remote, tag)
	if err != nil {
		return "", false, err
	}
	cached, _, err := p.meta.CachedTag(ctx, r.Repo, tag)
	updated := false
	var m *meta.Manifest
	switch {
	case err == nil && cached == d:
		if err := p.meta.MarkTagChecked(ctx, r.Repo, tag, p.now()); err != nil {
			return d, false, err
		}
		if m, err = p.meta.Manifest(ctx, r.Repo, d); err != nil {
			return d, false, err
		}
	case err == nil || errors.Is(err, meta.ErrNotFound):
		updated = true
		if m, err = p.meta.Manifest(ctx, r.Repo, d); err == nil {
			err = p.meta.PutCachedManifest(ctx, m, []string{tag}, p.now())
		} else if errors.Is(err, meta.ErrNotFound) {
			m, err = p.downloadManifest(ctx, u, r, d.String())
			if err == nil {
				err = p.meta.PutCachedManifest(ctx, m, []string{tag}, p.now())
			}
		}
		if err != nil {
			return d, true, err
		}
	default:
		return d, false, err
	}
	// Even an unchanged tag may lack blobs (evicted, or never pulled).
	return d, updated, p.ensureContent(ctx, u, r, m, 0)
}

// ensureContent fetches what a cached manifest references and the cache
// lacks: an index's manifests (all platforms) and an image's blobs.
func (p *Proxy) ensureContent(ctx context.Context, u *upstream, r registry.ProxyRoute, m *meta.Manifest, depth int) error {
	if depth > 4 {
		return fmt.Errorf("manifest %s: indexes nested too deep", m.Digest)
	}
	parsed, err := registry.ParseManifest(m.MediaType, m.Content)
	if err != nil {
		return err
	}
	for _, d := range parsed.Children {
		child, err := p.meta.Manifest(ctx, r.Repo, d)
		if errors.Is(err, meta.ErrNotFound) {
			child, err = p.downloadManifest(ctx, u, r, d.String())
		}
		if err != nil {
			return err
		}
		if err := p.ensureContent(ctx, u, r, child, depth+1); err != nil {
			return err
		}
	}
	for _, d := range parsed.Blobs {
		if err := p.ensureBlob(ctx, u, r, d); err != nil {
			return err
		}
	}
	return nil
}

// ensureBlob makes blob d readable in the route's cache repository,
// downloading it unless this upstream's cache holds it already (then, as
// for pulls, it is linked once the upstream confirms the repository has
// it).
func (p *Proxy) ensureBlob(ctx context.Context, u *upstream, r registry.ProxyRoute, d digest.Digest) error {
	if _, err := p.meta.Blob(ctx, r.Repo, d); err == nil {
		return nil
	}
	if b, err := p.meta.BlobUnder(ctx, u.cfg.Project, d); err == nil {
		if _, err := u.c.headBlob(ctx, r.Remote, d); err != nil {
			return err
		}
		return p.meta.PutBlob(ctx, r.Repo, b)
	}
	f := p.startFetch(u, r, d)
	defer f.release()
	return f.waitDone(ctx)
}

// SelectTags applies a sync rule's filters to an upstream's tags: the
// Tags expression (whole tag), the Semver range, then the Latest N. The
// result is ordered highest first.
func SelectTags(rule config.SyncRule, tags []string) ([]string, error) {
	var re *regexp.Regexp
	if rule.Tags != "" {
		var err error
		if re, err = regexp.Compile(`^(?:` + rule.Tags + `)$`); err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
	}
	var constraint *semver.Constraints
	if rule.Semver != "" {
		var err error
		if constraint, err = semver.NewConstraint(rule.Semver); err != nil {
			return nil, fmt.Errorf("semver %q: %w", rule.Semver, err)
		}
	}
	type tagVersion struct {
		tag string
		v   *semver.Version // nil: not a version
	}
	var sel []tagVersion
	for _, t := range tags {
		if re != nil && !re.MatchString(t) {
			continue
		}
		v, err := semver.NewVersion(t)
		if err != nil {
			v = nil
		}
		if constraint != nil && (v == nil || !constraint.Check(v)) {
			continue
		}
		sel = append(sel, tagVersion{t, v})
	}
	// Versions first, highest first; then other tags in reverse lexical order.
	slices.SortStableFunc(sel, func(a, b tagVersion) int {
		switch {
		case a.v != nil && b.v != nil:
			if c := b.v.Compare(a.v); c != 0 {
				return c
			}
			return strings.Compare(b.tag, a.tag)
		case a.v != nil:
			return -1
		case b.v != nil:
			return 1
		}
		return strings.Compare(b.tag, a.tag)
	})
	if rule.Latest > 0 && len(sel) > rule.Latest {
		sel = sel[:rule.Latest]
	}
	out := make([]string, len(sel))
	for i, s := range sel {
		out[i] = s.tag
	}
	return out, nil
}
