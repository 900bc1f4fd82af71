package meta

import (
	"context"
	"time"
)

// Job is the shared state of a background job (garbage collection, scrub,
// retention, scheduled mirroring): who runs it now, the progress of the
// run in flight, the last finished run's report, and on-demand requests.
// Rows are created on first use.
type Job struct {
	Name string
	// Owner holds the lease until LeaseUntil; "" when free. Only the owner
	// of an unexpired lease runs the job.
	Owner      string
	LeaseUntil time.Time
	// Running: a run started and has not finished. With an expired lease
	// it was interrupted (its instance died) and is resumed from Progress.
	Running bool
	// Progress is the run's own resumable state (opaque to the store).
	Progress string
	// RequestedAt is when a run was last asked for on demand (zero: never),
	// with the run's parameters in Request (opaque).
	RequestedAt time.Time
	Request     string
	// StartedAt and FinishedAt bound the current or last run.
	StartedAt  time.Time
	FinishedAt time.Time
	// Report is the last finished run's report (opaque).
	Report string
}

// JobRun is a finished run of a background job, kept in its history.
type JobRun struct {
	ID         int64
	StartedAt  time.Time
	FinishedAt time.Time
	Report     string // as FinishJob saved it (opaque)
}

// JobRunsKept is how many finished runs of each job the history keeps.
const JobRunsKept = 20

// JobStore keeps background jobs' leases and state, so that each job runs
// on exactly one instance at a time and a run interrupted by the death of
// its instance is resumed by another. Leases are timed by the database's
// clock where there is one (PostgreSQL), so instances whose clocks differ
// still agree on when a lease expires.
type JobStore interface {
	// Job returns a job's state; a job never seen is returned zero (but
	// named), not ErrNotFound.
	Job(ctx context.Context, name string) (Job, error)
	// AcquireJob takes or renews the lease on a job for owner, valid for
	// ttl from now, and returns the job. Granted when the lease is free,
	// expired, or already owner's; while another owner holds it, ErrConflict.
	AcquireJob(ctx context.Context, name, owner string, ttl time.Duration) (Job, error)
	// ReleaseJob gives up owner's lease; nothing happens if owner does not hold it.
	ReleaseJob(ctx context.Context, name, owner string) error
	// StartJob marks a run started by owner (Running, StartedAt now) with
	// its initial progress. ErrConflict when owner does not hold the lease.
	StartJob(ctx context.Context, name, owner, progress string) error
	// SaveJobProgress records a run's progress; ErrConflict when owner
	// does not hold the lease (another instance took the job over).
	SaveJobProgress(ctx context.Context, name, owner, progress string) error
	// FinishJob ends owner's run: Running false, FinishedAt now, Progress
	// cleared, Report saved, and the run added to the job's history (of
	// which the newest JobRunsKept stay). ErrConflict when owner does not
	// hold the lease.
	FinishJob(ctx context.Context, name, owner, report string) error
	// JobRuns returns the job's finished runs, newest first (at most
	// JobRunsKept).
	JobRuns(ctx context.Context, name string) ([]JobRun, error)
	// RequestJob asks for a run on demand with parameters request.
	RequestJob(ctx context.Context, name, request string) error
}
