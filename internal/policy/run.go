package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Deleter removes what retention does not keep. The registry service
// implements it (so its caches forget what goes); both deletes are
// conditional: meta.ErrConflict when the tag was moved, or the manifest
// tagged or referenced, since the run looked.
type Deleter interface {
	DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error
	DeleteUntaggedManifest(ctx context.Context, repo string, dgst digest.Digest) error
}

// Triggers of a retention run.
const (
	TriggerAPI      = "api"
	TriggerCLI      = "cli"
	TriggerSchedule = "schedule"
	TriggerUI       = "ui" // the web UI
)

// maxListed bounds the verdicts a run result lists (counts are complete).
const (
	maxListed   = 1000
	maxRecorded = 100
)

// RunResult reports a retention run.
type RunResult struct {
	ID           int64     `json:"id,omitempty"`
	Project      string    `json:"project"`
	Trigger      string    `json:"trigger"`
	DryRun       bool      `json:"dry_run"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	Status       string    `json:"status"` // "done" or "failed"
	Error        string    `json:"error,omitempty"`
	Repositories int       `json:"repositories"` // repositories the rules selected
	TagsKept     int       `json:"tags_kept"`
	// TagsDeleted and ManifestsDeleted count what was deleted (on a dry
	// run: what would be).
	TagsDeleted      int `json:"tags_deleted"`
	ManifestsDeleted int `json:"manifests_deleted"`
	// Skipped counts deletions given up because the tag or manifest
	// changed while the run was going (a new push wins).
	Skipped int `json:"skipped"`
	// Deleted lists the deleted tags and untagged manifests (the first
	// 1000; Truncated says there were more).
	Deleted   []Verdict `json:"deleted"`
	Truncated bool      `json:"truncated,omitempty"`
}

// Retention runs retention policies.
type Retention struct {
	e       *Engine
	del     Deleter
	running sync.Map // project -> struct{}: one run per project at a time here
	// Finished, when set, is called after each recorded run that was not
	// a dry run (the retention.finished event).
	Finished func(ctx context.Context, res *RunResult)
}

// NewRetention returns the runner of the engine's retention policies.
func NewRetention(e *Engine, del Deleter) *Retention { return &Retention{e: e, del: del} }

// RetentionPolicy returns a project's retention policy; ErrNotFound when
// it has none.
func (e *Engine) RetentionPolicy(ctx context.Context, project string) (*RetentionPolicy, error) {
	if err := ValidProject(project); err != nil {
		return nil, err
	}
	stored, err := e.store.RetentionPolicy(ctx, project)
	if err != nil {
		return nil, notFound(err)
	}
	p, err := ParseRetentionPolicy([]byte(stored.Rules))
	if err != nil {
		return nil, fmt.Errorf("stored retention policy of %s: %w", project, err)
	}
	p.Schedule = stored.Schedule
	return p, nil
}

// SetRetentionPolicy validates and stores a project's retention policy.
func (e *Engine) SetRetentionPolicy(ctx context.Context, project string, p *RetentionPolicy) error {
	if err := ValidProject(project); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	rules, err := json.Marshal(RetentionPolicy{Rules: p.Rules})
	if err != nil {
		return err
	}
	return e.store.SetRetentionPolicy(ctx, meta.RetentionPolicy{Project: project, Rules: string(rules), Schedule: p.Schedule})
}

// DeleteRetentionPolicy removes a project's retention policy.
func (e *Engine) DeleteRetentionPolicy(ctx context.Context, project string) error {
	if err := ValidProject(project); err != nil {
		return err
	}
	return notFound(e.store.DeleteRetentionPolicy(ctx, project))
}

// RetentionRuns lists a project's recorded runs, newest first.
func (e *Engine) RetentionRuns(ctx context.Context, project string, n int) ([]RunResult, error) {
	if err := ValidProject(project); err != nil {
		return nil, err
	}
	runs, err := e.store.RetentionRuns(ctx, project, n)
	if err != nil {
		return nil, err
	}
	out := make([]RunResult, 0, len(runs))
	for _, r := range runs {
		var res RunResult
		if err := json.Unmarshal([]byte(r.Summary), &res); err != nil {
			res = RunResult{Project: project, Status: r.Status, Error: "summary unreadable: " + err.Error()}
		}
		res.ID = r.ID
		out = append(out, res)
	}
	return out, nil
}

// RunOptions tune one run.
type RunOptions struct {
	DryRun  bool
	Trigger string
}

// Run applies a project's retention policy: every tag and untagged
// manifest of the selected repositories that no rule keeps is deleted
// (tags only: a manifest left untagged is for GC to collect, or for the
// next run if no rule keeps untagged manifests). A dry run deletes
// nothing and reports the same. The run is recorded.
func (rt *Retention) Run(ctx context.Context, project string, opts RunOptions) (*RunResult, error) {
	p, err := rt.e.RetentionPolicy(ctx, project)
	if err != nil {
		return nil, err
	}
	if _, busy := rt.running.LoadOrStore(project, struct{}{}); busy {
		return nil, fmt.Errorf("%w: a retention run of project %s is in progress", ErrBusy, project)
	}
	defer rt.running.Delete(project)
	if opts.Trigger == "" {
		opts.Trigger = TriggerAPI
	}
	res := &RunResult{Project: project, Trigger: opts.Trigger, DryRun: opts.DryRun, StartedAt: rt.e.now().UTC(), Deleted: []Verdict{}}
	runErr := rt.run(ctx, project, p, opts, res)
	res.FinishedAt = rt.e.now().UTC()
	res.Status = "done"
	if runErr != nil {
		res.Status, res.Error = "failed", runErr.Error()
	}
	if res.TagsDeleted+res.ManifestsDeleted > 0 && !opts.DryRun {
		rt.e.Released(project)
	}
	rt.e.log.InfoContext(ctx, "retention run", "project", project, "trigger", opts.Trigger, "dry_run", opts.DryRun,
		"status", res.Status, "repositories", res.Repositories, "tags_kept", res.TagsKept, "tags_deleted", res.TagsDeleted,
		"manifests_deleted", res.ManifestsDeleted, "skipped", res.Skipped, "duration", res.FinishedAt.Sub(res.StartedAt))
	if id, err := rt.record(context.WithoutCancel(ctx), res); err != nil {
		rt.e.log.WarnContext(ctx, "record retention run", "project", project, "error", err)
	} else {
		res.ID = id
	}
	if rt.Finished != nil && !opts.DryRun {
		rt.Finished(context.WithoutCancel(ctx), res)
	}
	return res, runErr
}

// Preview is a dry run of policy p, which need not be saved: what it
// would delete now, for checking rules before saving them. It is not
// recorded.
func (rt *Retention) Preview(ctx context.Context, project string, p *RetentionPolicy) (*RunResult, error) {
	if err := ValidProject(project); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	res := &RunResult{Project: project, Trigger: TriggerAPI, DryRun: true, StartedAt: rt.e.now().UTC(), Deleted: []Verdict{}}
	err := rt.run(ctx, project, p, RunOptions{DryRun: true}, res)
	res.FinishedAt, res.Status = rt.e.now().UTC(), "done"
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (rt *Retention) run(ctx context.Context, project string, p *RetentionPolicy, opts RunOptions, res *RunResult) error {
	now := rt.e.now()
	graceStart := now.Add(-rt.e.opts.UntaggedGrace)
	last := ""
	for {
		repos, err := rt.e.store.ProjectRepositories(ctx, project, last, 500)
		if err != nil {
			return err
		}
		if len(repos) == 0 {
			return nil
		}
		last = repos[len(repos)-1]
		for _, repo := range repos {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := rt.repository(ctx, repo, p, now, graceStart, opts, res); err != nil {
				return fmt.Errorf("repository %s: %w", repo, err)
			}
		}
	}
}

// repository applies the policy to one repository.
func (rt *Retention) repository(ctx context.Context, repo string, p *RetentionPolicy, now, graceStart time.Time, opts RunOptions, res *RunResult) error {
	tags, err := rt.e.store.TagDetails(ctx, repo)
	if err != nil {
		return err
	}
	untagged, err := rt.e.store.UntaggedManifests(ctx, repo)
	if err != nil {
		return err
	}
	immutable, err := rt.e.TagRules(ctx, repo)
	if err != nil {
		return err
	}
	verdicts := p.Evaluate(now, repo, tags, untagged, immutable, graceStart)
	if verdicts == nil {
		return nil
	}
	res.Repositories++
	for _, v := range verdicts {
		if v.Keep {
			if v.Tag != "" {
				res.TagsKept++
			}
			continue
		}
		if !opts.DryRun {
			var err error
			if v.Tag != "" {
				err = rt.del.DeleteTagIf(ctx, repo, v.Tag, v.Digest)
			} else {
				err = rt.del.DeleteUntaggedManifest(ctx, repo, v.Digest)
			}
			if errors.Is(err, meta.ErrConflict) || errors.Is(err, meta.ErrNotFound) || errors.Is(err, ErrTagImmutable) {
				res.Skipped++
				continue
			}
			if err != nil {
				return err
			}
		}
		if v.Tag != "" {
			res.TagsDeleted++
		} else {
			res.ManifestsDeleted++
		}
		if len(res.Deleted) < maxListed {
			res.Deleted = append(res.Deleted, v)
		} else {
			res.Truncated = true
		}
	}
	return nil
}

// record stores a run, listing at most maxRecorded deletions.
func (rt *Retention) record(ctx context.Context, res *RunResult) (int64, error) {
	rec := *res
	if len(rec.Deleted) > maxRecorded {
		rec.Deleted, rec.Truncated = rec.Deleted[:maxRecorded], true
	}
	summary, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	return rt.e.store.AddRetentionRun(ctx, meta.RetentionRun{Project: res.Project, Trigger: res.Trigger, DryRun: res.DryRun,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt, Status: res.Status, Summary: string(summary)})
}

// DueReport is what a pass over the scheduled retention policies did.
type DueReport struct {
	Policies int      `json:"policies"` // policies with a schedule
	Ran      []string `json:"ran"`      // projects whose policy ran
	Failed   []string `json:"failed,omitempty"`
}

// RunDue runs every retention policy whose schedule is due: its interval
// has passed since its last scheduled run started (or, before the first,
// since the policy was set). It is the body of the scheduled "retention"
// job, which runs on one instance at a time.
func (rt *Retention) RunDue(ctx context.Context) (*DueReport, error) {
	policies, err := rt.e.store.RetentionPolicies(ctx)
	if err != nil {
		return nil, err
	}
	rep := &DueReport{Ran: []string{}}
	for _, p := range policies {
		every, err := ParseSchedule(p.Schedule)
		if err != nil || every == 0 {
			continue
		}
		rep.Policies++
		last, err := rt.lastScheduled(ctx, p.Project)
		if err != nil {
			return rep, err
		}
		if last.IsZero() {
			last = p.UpdatedAt
		}
		if rt.e.now().Sub(last) < every {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if _, err := rt.Run(ctx, p.Project, RunOptions{Trigger: TriggerSchedule}); err != nil {
			rt.e.log.WarnContext(ctx, "scheduled retention run", "project", p.Project, "error", err)
			rep.Failed = append(rep.Failed, p.Project)
			continue
		}
		rep.Ran = append(rep.Ran, p.Project)
	}
	return rep, nil
}

// lastScheduled is when the project's last scheduled run started (zero
// when none is recorded).
func (rt *Retention) lastScheduled(ctx context.Context, project string) (time.Time, error) {
	runs, err := rt.e.store.RetentionRuns(ctx, project, 50) // the stores keep 50
	if err != nil {
		return time.Time{}, err
	}
	for _, r := range runs {
		if r.Trigger == TriggerSchedule {
			return r.StartedAt, nil
		}
	}
	return time.Time{}, nil
}
