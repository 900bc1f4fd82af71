package replication

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// Triggers of a run.
const (
	TriggerManual    = "manual"
	TriggerSchedule  = "schedule"
	TriggerEvent     = "event"
	TriggerReconcile = "reconcile"
)

// Task kinds.
const (
	taskCopy   = "copy"
	taskDelete = "delete"
)

// Run is a run as the API shows it.
type Run struct {
	ID         int64     `json:"id"`
	Rule       string    `json:"rule"`
	Trigger    string    `json:"trigger"`
	Status     string    `json:"status"`
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Pending    int       `json:"pending"`
	Running    int       `json:"running"`
	Succeeded  int       `json:"succeeded"`
	Failed     int       `json:"failed"`
	Skipped    int       `json:"skipped"`
	Bytes      int64     `json:"bytes"`
}

func runOf(r meta.ReplicationRun) Run {
	c := r.Counts
	return Run{ID: r.ID, Rule: r.Rule, Trigger: r.Trigger, Status: r.Status, Error: r.Error, CreatedAt: r.CreatedAt,
		FinishedAt: r.FinishedAt, Pending: c.Pending, Running: c.Running, Succeeded: c.Succeeded, Failed: c.Failed,
		Skipped: c.Skipped, Bytes: c.Bytes}
}

// Task is a task as the API shows it.
type Task struct {
	ID      int64     `json:"id"`
	Kind    string    `json:"kind"`
	Source  string    `json:"source"`
	Dest    string    `json:"destination"`
	Ref     string    `json:"reference"`
	Status  string    `json:"status"`
	Attempt int       `json:"attempts"`
	NextAt  time.Time `json:"next_attempt_at,omitzero"`
	Error   string    `json:"error,omitempty"`
	Bytes   int64     `json:"bytes"`
	Updated time.Time `json:"updated_at,omitzero"`
}

// StartRun starts a full run of a rule now (on whichever instance runs
// the replication job).
func (s *Service) StartRun(ctx context.Context, rule string) (Run, error) {
	if _, err := s.Rule(ctx, rule); err != nil {
		return Run{}, err
	}
	return s.createRun(ctx, rule, TriggerManual, "", nil)
}

func (s *Service) createRun(ctx context.Context, rule, trigger, request string, tasks []meta.ReplicationTask) (Run, error) {
	id, err := s.store.CreateReplicationRun(ctx, meta.ReplicationRun{Rule: rule, Trigger: trigger, Request: request}, tasks)
	if err != nil {
		return Run{}, err
	}
	if s.opts.Wake != nil {
		s.opts.Wake(ctx)
	}
	return s.Run(ctx, id)
}

// Run returns a run with its counts.
func (s *Service) Run(ctx context.Context, id int64) (Run, error) {
	r, err := s.store.ReplicationRun(ctx, id)
	if err != nil {
		return Run{}, notFound(err, fmt.Sprintf("run %d", id))
	}
	return runOf(r), nil
}

// Runs lists the newest runs (of one rule unless rule is "").
func (s *Service) Runs(ctx context.Context, rule string, limit int) ([]Run, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rs, err := s.store.ReplicationRuns(ctx, rule, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Run, len(rs))
	for i, r := range rs {
		out[i] = runOf(r)
	}
	return out, nil
}

// Tasks lists a run's tasks after id after (of one status unless "").
func (s *Service) Tasks(ctx context.Context, run int64, status string, after int64, limit int) ([]Task, error) {
	if _, err := s.Run(ctx, run); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	ts, err := s.store.ReplicationTasks(ctx, run, status, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = Task{ID: t.ID, Kind: t.Kind, Source: t.Source, Dest: t.Dest, Ref: t.Ref, Status: t.Status,
			Attempt: t.Attempt, Error: t.Error, Bytes: t.Bytes, Updated: t.Updated}
		if t.Status == meta.TaskPending {
			out[i].NextAt = t.NextAt
		}
	}
	return out, nil
}

// StopRun stops a run: its tasks not done yet are skipped.
func (s *Service) StopRun(ctx context.Context, id int64) (Run, error) {
	err := s.store.EndReplicationRun(ctx, id, meta.RunStopped, "stopped by an administrator")
	if errors.Is(err, meta.ErrConflict) {
		return Run{}, fmt.Errorf("%w: run %d has ended", ErrConflict, id)
	}
	if err != nil {
		return Run{}, notFound(err, fmt.Sprintf("run %d", id))
	}
	r, err := s.Run(ctx, id)
	if err == nil {
		s.metrics.runs.WithLabelValues(r.Rule, meta.RunStopped).Inc()
	}
	return r, err
}

// Report is a pass of Work as the job records it.
func Report(attempts int) string {
	b, _ := json.Marshal(map[string]int{"attempts": attempts})
	return string(b)
}

// Work does what is due now and returns how many task attempts it made:
// due schedules become runs, pending runs are planned, and the due tasks
// of running runs are copied, each run with its rule's concurrency, until
// none is due. Tasks waiting for a retry are left to a later call.
func (s *Service) Work(ctx context.Context) (int, error) {
	if err := s.schedule(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("replication: scheduling", "error", err)
	}
	// Renew the leases of the tasks in flight while they copy.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.renew(rctx)
	total := 0
	for ctx.Err() == nil {
		runs, err := s.store.ActiveReplicationRuns(ctx)
		if err != nil {
			return total, err
		}
		var mu sync.Mutex
		did := 0
		var wg sync.WaitGroup
		sem := make(chan struct{}, maxParallelRuns)
		for _, r := range runs {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				n := s.advance(ctx, r)
				mu.Lock()
				did += n
				mu.Unlock()
			})
		}
		wg.Wait()
		total += did
		if did == 0 {
			break
		}
	}
	return total, ctx.Err()
}

// maxParallelRuns bounds the runs worked on at once (each with its
// rule's concurrency): a burst of events makes many small runs.
const maxParallelRuns = 16

func (s *Service) renew(ctx context.Context) {
	every := s.opts.Config.TaskLease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.store.RenewReplicationTasks(ctx, s.opts.Owner, s.opts.Config.TaskLease); err != nil && ctx.Err() == nil {
				s.log.Warn("replication: renewing task leases", "error", err)
			}
		}
	}
}

// advance plans a pending run, works on a running run's due tasks, and
// ends the run once no task is left. It returns the attempts made.
func (s *Service) advance(ctx context.Context, run meta.ReplicationRun) int {
	log := s.log.With("rule", run.Rule, "run", run.ID)
	rule, err := s.Rule(ctx, run.Rule)
	if errors.Is(err, ErrNotFound) {
		s.end(ctx, run.ID, run.Rule, meta.RunStopped, "rule deleted")
		return 0
	}
	if err != nil {
		log.Warn("replication: reading the rule", "error", err)
		return 0
	}
	if run.Status == meta.RunPending {
		tasks, err := s.plan(registry.WithOrigin(ctx, Origin(rule.Name)), &rule)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("replication: planning failed", "error", err)
				s.end(ctx, run.ID, run.Rule, meta.RunFailed, "planning: "+err.Error())
			}
			return 0
		}
		if err := s.store.PlanReplicationRun(ctx, run.ID, tasks); err != nil {
			log.Warn("replication: saving the plan", "error", err)
			return 0
		}
		log.Info("replication: run planned", "tasks", len(tasks))
	}
	n := s.work(ctx, &rule, run.ID)
	if ctx.Err() != nil {
		return n
	}
	cur, err := s.store.ReplicationRun(ctx, run.ID)
	if err != nil || cur.Status != meta.RunRunning || cur.Counts.Pending+cur.Counts.Running > 0 {
		return n
	}
	if cur.Counts.Failed > 0 {
		s.end(ctx, run.ID, run.Rule, meta.RunFailed, fmt.Sprintf("%d of %d tasks failed", cur.Counts.Failed,
			cur.Counts.Failed+cur.Counts.Succeeded+cur.Counts.Skipped))
	} else {
		s.end(ctx, run.ID, run.Rule, meta.RunSucceeded, "")
	}
	return n
}

func (s *Service) end(ctx context.Context, id int64, rule, status, reason string) {
	err := s.store.EndReplicationRun(ctx, id, status, reason)
	if err != nil {
		if !errors.Is(err, meta.ErrConflict) {
			s.log.Warn("replication: ending a run", "run", id, "error", err)
		}
		return
	}
	s.metrics.runs.WithLabelValues(rule, status).Inc()
	s.log.Info("replication: run ended", "rule", rule, "run", id, "status", status, "reason", reason)
}

// work runs the rule's concurrency of workers over a run's due tasks.
func (s *Service) work(ctx context.Context, rule *Rule, run int64) int {
	var mu sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range rule.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				tasks, err := s.store.ClaimReplicationTasks(ctx, run, s.opts.Owner, s.opts.Config.TaskLease, 1)
				if err != nil || len(tasks) == 0 {
					if err != nil && ctx.Err() == nil {
						s.log.Warn("replication: claiming tasks", "run", run, "error", err)
					}
					return
				}
				s.attempt(ctx, rule, tasks[0])
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return n
}

// attempt makes one attempt at a task and records its outcome.
func (s *Service) attempt(ctx context.Context, rule *Rule, t meta.ReplicationTask) {
	bytes, err := s.execute(registry.WithOrigin(ctx, Origin(rule.Name)), rule, t)
	if ctx.Err() != nil {
		return // shutting down: the lease runs out and the task is taken again
	}
	s.metrics.bytes.WithLabelValues(rule.Name).Add(float64(bytes))
	status, reason, retry := meta.TaskSucceeded, "", time.Time{}
	var skip errSkip
	switch {
	case err == nil:
	case errors.As(err, &skip):
		status, reason = meta.TaskSkipped, skip.reason
	case errors.Is(err, ErrInvalid) || t.Attempt >= s.opts.Config.Attempts:
		status, reason = meta.TaskFailed, err.Error()
	default:
		status, reason, retry = meta.TaskPending, err.Error(), time.Now().Add(s.backoff(t.Attempt))
	}
	outcome := status
	if status == meta.TaskPending {
		outcome = "retried"
	}
	s.metrics.tasks.WithLabelValues(rule.Name, outcome).Inc()
	if err != nil && status != meta.TaskSkipped {
		s.log.Warn("replication: task failed", "rule", rule.Name, "run", t.RunID, "repo", t.Source, "reference", t.Ref,
			"attempt", t.Attempt, "retry", !retry.IsZero(), "error", err)
	}
	if err := s.store.FinishReplicationTask(context.WithoutCancel(ctx), t.ID, s.opts.Owner, status, reason, bytes, retry); err != nil {
		s.log.Warn("replication: recording a task", "task", t.ID, "error", err)
	}
}

// backoff is the wait after the attempt-th failed attempt.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.opts.Config.RetryBase
	for i := 1; i < attempt && d < s.opts.Config.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.opts.Config.RetryMax)
}

// execute copies or deletes one artifact; it returns the bytes copied.
func (s *Service) execute(ctx context.Context, rule *Rule, t meta.ReplicationTask) (int64, error) {
	src, dst, err := s.endpoints(ctx, rule)
	if err != nil {
		return 0, err
	}
	f, err := compileFilter(rule)
	if err != nil {
		return 0, err
	}
	st := s.state(rule)
	c := &copier{src: src, dst: dst, srcRepo: t.Source, dstRepo: t.Dest, f: f, referrers: rule.referrers(),
		override: rule.override(), limit: st.limit, mounts: &st.mounts}
	if t.Kind == taskDelete {
		return 0, c.deleteRef(ctx, t.Ref)
	}
	err = c.copyRef(ctx, t.Ref)
	return c.bytes.Load(), err
}

// plan lists what a full run of the rule must do: one copy task per
// selected tag of each selected repository, and, with deletions on, one
// delete task per selected tag the destination has and the source has not.
func (s *Service) plan(ctx context.Context, rule *Rule) ([]meta.ReplicationTask, error) {
	src, dst, err := s.endpoints(ctx, rule)
	if err != nil {
		return nil, err
	}
	f, err := compileFilter(rule)
	if err != nil {
		return nil, err
	}
	repos, literal := f.literalRepos()
	if !literal {
		all, err := src.Repositories(ctx)
		if err != nil {
			return nil, err
		}
		repos = repos[:0]
		for _, r := range all {
			if f.repo(r) {
				repos = append(repos, r)
			}
		}
	}
	tasks := []meta.ReplicationTask{}
	for _, repo := range repos {
		dest, err := f.rewrite(repo)
		if err != nil {
			return nil, err
		}
		tags, err := src.Tags(ctx, repo)
		if err != nil {
			return nil, fmt.Errorf("tags of %s: %w", repo, err)
		}
		for _, tag := range f.selectTags(tags) {
			tasks = append(tasks, meta.ReplicationTask{Kind: taskCopy, Source: repo, Dest: dest, Ref: tag})
		}
		if !rule.Deletions {
			continue
		}
		have := map[string]bool{}
		for _, t := range tags {
			have[t] = true
		}
		dtags, err := dst.Tags(ctx, dest)
		if err != nil {
			return nil, fmt.Errorf("tags of %s at the destination: %w", dest, err)
		}
		for _, t := range dtags {
			if !have[t] && f.tag(t) {
				tasks = append(tasks, meta.ReplicationTask{Kind: taskDelete, Source: repo, Dest: dest, Ref: t})
			}
		}
	}
	return tasks, nil
}

// schedule starts the full runs that are due: a rule's cron schedule, and
// the periodic reconciliation of rules triggered by events. A rule with a
// run in flight waits for it.
func (s *Service) schedule(ctx context.Context) error {
	rules, err := s.Rules(ctx)
	if err != nil {
		return err
	}
	active, err := s.store.ActiveReplicationRuns(ctx)
	if err != nil {
		return err
	}
	busy := map[string]bool{}
	for _, r := range active {
		if r.Trigger != TriggerEvent {
			busy[r.Rule] = true
		}
	}
	now := time.Now()
	for _, r := range rules {
		if !r.Enabled || busy[r.Name] || (r.Schedule == "" && (!r.Events || s.opts.Config.Reconcile == 0)) {
			continue
		}
		from := r.UpdatedAt
		last, err := s.store.LastFullReplicationRun(ctx, r.Name)
		if err == nil && last.CreatedAt.After(from) {
			from = last.CreatedAt
		} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		trigger := TriggerReconcile
		due := now.Sub(from) >= s.opts.Config.Reconcile
		if r.Schedule != "" {
			sched, err := ParseSchedule(r.Schedule)
			if err != nil {
				continue // validated when saved
			}
			trigger, due = TriggerSchedule, !sched.Next(from).After(now)
		}
		if due {
			if _, err := s.createRun(ctx, r.Name, trigger, "", nil); err != nil {
				return err
			}
		}
	}
	return nil
}
