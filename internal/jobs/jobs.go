// Package jobs runs background jobs (garbage collection, scrub, retention,
// scheduled mirroring) on exactly one instance at a time, however many
// instances share the metadata database.
//
// The database holds one row per job (meta.JobStore): a lease (owner,
// until when), whether a run is in flight and its saved progress, the last
// run's report, and on-demand requests; the history of finished runs
// (the newest meta.JobRunsKept of each job) beside it. Every instance runs a Scheduler
// that looks at each job every Poll interval (or at once when asked on
// this instance) and, when the job is due, takes its lease with one
// conditional write: the instance that wins runs the job, the others wait
// for the next look. The runner renews the lease every third of its TTL
// while the job runs; if renewal fails (the database is unreachable, or
// another instance took the lease because it had expired), the run's
// context is cancelled.
//
// A job is due when a run was interrupted (Running with an expired lease:
// its instance died, or stopped), when a run was requested on demand after
// the last one started, or when its Interval has passed since the last one
// started. A job saves its progress as it goes (Run.Save); an interrupted
// run is resumed from the saved progress, with the same request, by
// whichever instance takes the lease next. Stopping an instance cancels its
// runs and releases their leases without finishing them, so another
// instance resumes them at its next look.
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrBusy: the job is running on another instance (or process).
var ErrBusy = errors.New("job is running elsewhere")

// ErrUnknownJob: no job of that name is registered.
var ErrUnknownJob = errors.New("unknown job")

// Job is a background job.
type Job struct {
	// Name identifies the job in the database, logs and the API.
	Name string
	// Interval between the starts of scheduled runs; 0 runs the job only
	// on demand. The first scheduled run comes one Interval after the
	// scheduler starts when the job never ran.
	Interval time.Duration
	// Run does the work. It returns the run's report (opaque to the
	// scheduler, JSON by convention), saved as the job's last report even
	// when err is not nil. When ctx is cancelled (shutdown, lost lease)
	// it should return promptly; the run is then resumed later from the
	// last progress it saved.
	Run func(ctx context.Context, r *Run) (report string, err error)
}

// Run is one run of a job, as the job's function sees it.
type Run struct {
	// Request holds the parameters of an on-demand run ("" for a scheduled one).
	Request string
	// Progress is what the interrupted run being resumed last saved ("" for a fresh run).
	Progress string
	// Resumed: the run continues an interrupted one.
	Resumed bool

	save func(ctx context.Context, progress string) error
}

// Save records the run's progress so that an interrupted run resumes from
// it. An error (notably meta.ErrConflict: another instance has taken the
// job over) means the run should stop.
func (r *Run) Save(ctx context.Context, progress string) error {
	if r.save == nil {
		return nil
	}
	return r.save(ctx, progress)
}

// envelope is what the scheduler stores as a job's progress: the run's
// request beside the job's own progress, so a resumed run knows both.
type envelope struct {
	Request  string `json:"request,omitempty"`
	Progress string `json:"progress,omitempty"`
}

func (e envelope) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

func parseEnvelope(s string) envelope {
	var e envelope
	if s != "" {
		json.Unmarshal([]byte(s), &e) // a bad envelope resumes as a fresh run
	}
	return e
}

// Options tune a Scheduler.
type Options struct {
	// Owner identifies this instance in leases; default a random id.
	Owner string
	// Lease is how long a lease lasts without renewal: a job whose
	// instance died is taken over after at most this long. Default 30s.
	Lease time.Duration
	// Poll is how often each job's row is looked at. Default 10s.
	Poll time.Duration
	Log  *slog.Logger
}

// Scheduler runs jobs when they are due, on one instance at a time.
type Scheduler struct {
	store   meta.JobStore
	opts    Options
	jobs    map[string]*Job
	wake    map[string]chan struct{}
	busy    map[string]*sync.Mutex // one run per job in this process
	started time.Time

	mu     sync.Mutex
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a scheduler of jobs over store; Start runs it.
func New(store meta.JobStore, opts Options, jobs ...Job) *Scheduler {
	if opts.Owner == "" {
		opts.Owner = NewOwner()
	}
	if opts.Lease <= 0 {
		opts.Lease = 30 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{store: store, opts: opts, jobs: map[string]*Job{}, wake: map[string]chan struct{}{}, busy: map[string]*sync.Mutex{}}
	for i := range jobs {
		j := jobs[i]
		s.jobs[j.Name] = &j
		s.wake[j.Name] = make(chan struct{}, 1)
		s.busy[j.Name] = &sync.Mutex{}
	}
	return s
}

// NewOwner returns a random lease owner id.
func NewOwner() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Owner is this scheduler's lease owner id.
func (s *Scheduler) Owner() string { return s.opts.Owner }

// Start runs every job's loop until Stop (or ctx ends).
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.started = time.Now()
	for _, j := range s.jobs {
		s.wg.Go(func() { s.loop(ctx, j) })
	}
}

// Stop cancels the runs in flight (leaving them to be resumed), releases
// their leases and waits for the loops to end.
func (s *Scheduler) Stop() {
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
}

// Trigger asks for a run of the job with parameters request, on whichever
// instance gets the lease; this instance looks at once.
func (s *Scheduler) Trigger(ctx context.Context, name, request string) error {
	if s.jobs[name] == nil {
		return fmt.Errorf("%w: %s", ErrUnknownJob, name)
	}
	if err := s.store.RequestJob(ctx, name, request); err != nil {
		return err
	}
	select {
	case s.wake[name] <- struct{}{}:
	default:
	}
	return nil
}

// Status is a job's state as the API reports it.
type Status struct {
	Name       string
	Running    bool
	Owner      string // the instance holding the lease, "" when none
	StartedAt  time.Time
	FinishedAt time.Time
	// Request and Progress of the run in flight (or interrupted).
	Request  string
	Progress string
	// Pending: a run was requested and has not started yet.
	Pending bool
	Report  string
}

// Status returns a job's state.
func (s *Scheduler) Status(ctx context.Context, name string) (Status, error) {
	if s.jobs[name] == nil {
		return Status{}, fmt.Errorf("%w: %s", ErrUnknownJob, name)
	}
	j, err := s.store.Job(ctx, name)
	if err != nil {
		return Status{}, err
	}
	st := Status{Name: name, Running: j.Running, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Report: j.Report,
		Pending: j.RequestedAt.After(j.StartedAt)}
	if j.LeaseUntil.After(time.Now()) {
		st.Owner = j.Owner
	}
	if j.Running {
		e := parseEnvelope(j.Progress)
		st.Request, st.Progress = e.Request, e.Progress
	}
	return st, nil
}

// Runs returns a job's finished runs, newest first (the newest
// meta.JobRunsKept).
func (s *Scheduler) Runs(ctx context.Context, name string) ([]meta.JobRun, error) {
	if s.jobs[name] == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownJob, name)
	}
	return s.store.JobRuns(ctx, name)
}

// loop looks at the job every Poll interval (or when woken) and runs it
// when it is due and this instance gets the lease.
func (s *Scheduler) loop(ctx context.Context, j *Job) {
	t := time.NewTimer(jitter(s.opts.Poll / 4))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake[j.Name]:
		}
		if err := s.tick(ctx, j); err != nil && ctx.Err() == nil {
			s.opts.Log.Warn("job scheduler", "job", j.Name, "error", err)
		}
		t.Reset(jitter(s.opts.Poll))
	}
}

// jitter spreads d by up to a fifth so that instances do not look in step.
func jitter(d time.Duration) time.Duration {
	var b [1]byte
	rand.Read(b[:])
	return d + d/5*time.Duration(b[0])/255
}

// tick runs the job if it is due.
func (s *Scheduler) tick(ctx context.Context, j *Job) error {
	row, err := s.store.Job(ctx, j.Name)
	if err != nil {
		return err
	}
	now := time.Now()
	if row.Owner != "" && row.Owner != s.opts.Owner && row.LeaseUntil.After(now) {
		return nil // running elsewhere
	}
	var request string
	switch {
	case row.Running: // interrupted: resume
	case row.RequestedAt.After(row.StartedAt):
		request = row.Request
	case j.Interval > 0 && !row.StartedAt.IsZero() && now.Sub(row.StartedAt) >= j.Interval:
	case j.Interval > 0 && row.StartedAt.IsZero() && now.Sub(s.started) >= j.Interval:
	default:
		return nil
	}
	_, err = s.run(ctx, j, request, false)
	if errors.Is(err, ErrBusy) {
		return nil
	}
	return err
}

// RunNow runs the job here and now, with parameters request, and returns
// its report; ErrBusy when another instance or process holds its lease.
// A run of it that was interrupted is superseded by this one.
func (s *Scheduler) RunNow(ctx context.Context, name, request string) (string, error) {
	j := s.jobs[name]
	if j == nil {
		return "", fmt.Errorf("%w: %s", ErrUnknownJob, name)
	}
	return s.run(ctx, j, request, true)
}

// run takes the lease and runs the job: resuming an interrupted run unless
// fresh is set, else starting one with request.
func (s *Scheduler) run(ctx context.Context, j *Job, request string, fresh bool) (string, error) {
	if !s.busy[j.Name].TryLock() {
		return "", fmt.Errorf("%w: %s is running in this process", ErrBusy, j.Name)
	}
	defer s.busy[j.Name].Unlock()
	owner := s.opts.Owner
	row, err := s.store.AcquireJob(ctx, j.Name, owner, s.opts.Lease)
	if errors.Is(err, meta.ErrConflict) {
		return "", fmt.Errorf("%w: %s is running on another instance", ErrBusy, j.Name)
	}
	if err != nil {
		return "", err
	}
	// The lease is ours: renew it while the job runs; lose it, stop.
	rctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.renew(rctx, j.Name, cancel)
	}()
	defer func() {
		cancel(nil)
		<-renewed
		if err := s.store.ReleaseJob(context.WithoutCancel(ctx), j.Name, owner); err != nil {
			s.opts.Log.Warn("job lease release", "job", j.Name, "error", err)
		}
	}()

	r := &Run{Request: request}
	if row.Running && !fresh {
		e := parseEnvelope(row.Progress)
		r.Request, r.Progress, r.Resumed = e.Request, e.Progress, true
	} else if err := s.store.StartJob(rctx, j.Name, owner, envelope{Request: request}.String()); err != nil {
		return "", err
	}
	r.save = func(ctx context.Context, progress string) error {
		return s.store.SaveJobProgress(ctx, j.Name, owner, envelope{Request: r.Request, Progress: progress}.String())
	}
	log := s.opts.Log.With("job", j.Name)
	log.Info("job started", "resumed", r.Resumed, "request", r.Request)
	start := time.Now()
	report, err := j.Run(rctx, r)
	if rctx.Err() != nil {
		// Shut down or lease lost: leave the run to be resumed.
		log.Warn("job interrupted; it will resume", "cause", context.Cause(rctx), "error", err)
		if err == nil {
			err = context.Cause(rctx)
		}
		return report, err
	}
	if ferr := s.store.FinishJob(context.WithoutCancel(ctx), j.Name, owner, report); ferr != nil {
		return report, errors.Join(err, ferr)
	}
	if err != nil {
		log.Error("job failed", "duration", time.Since(start), "error", err)
		return report, err
	}
	log.Info("job finished", "duration", time.Since(start))
	return report, nil
}

// errLeaseLost cancels a run whose lease could not be renewed.
var errLeaseLost = errors.New("job lease lost")

// renew renews the lease every third of its TTL until ctx ends; when it
// cannot (another owner took it, or the lease ran out while the database
// did not answer) it cancels the run.
func (s *Scheduler) renew(ctx context.Context, name string, cancel context.CancelCauseFunc) {
	every := s.opts.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	valid := time.Now().Add(s.opts.Lease)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := s.store.AcquireJob(ctx, name, s.opts.Owner, s.opts.Lease)
		switch {
		case err == nil:
			valid = time.Now().Add(s.opts.Lease)
		case errors.Is(err, meta.ErrConflict):
			cancel(fmt.Errorf("%w: %v", errLeaseLost, err))
			return
		case ctx.Err() != nil:
			return
		case time.Now().Add(every).After(valid):
			cancel(fmt.Errorf("%w: cannot renew: %v", errLeaseLost, err))
			return
		default:
			s.opts.Log.Warn("job lease renewal failed; retrying", "job", name, "error", err)
		}
	}
}
