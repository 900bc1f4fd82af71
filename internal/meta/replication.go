package meta

import (
	"context"
	"time"
)

// Replication state: the registries and rules an administrator configured
// (kept as opaque JSON documents the replication package owns), and the
// runs of rules with one task per artifact, leased by whichever instance
// works on them so that a run survives the death of its instance.

// Kinds of replication configuration documents.
const (
	ReplicationKindRegistry = "registry"
	ReplicationKindRule     = "rule"
)

// ReplicationConfig is one named registry or rule (Spec is JSON, opaque here).
type ReplicationConfig struct {
	Kind      string
	Name      string
	Spec      string
	UpdatedAt time.Time
}

// Run states. A run is pending until its tasks are planned, running while
// any task is pending or running, then succeeded, failed (a task failed
// for good) or stopped (by an administrator).
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunStopped   = "stopped"
)

// Task states. A failed attempt that will be retried puts a task back to
// pending with a later NextAt.
const (
	TaskPending   = "pending"
	TaskRunning   = "running"
	TaskSucceeded = "succeeded"
	TaskFailed    = "failed"
	TaskSkipped   = "skipped"
)

// ReplicationRun is one run of a rule.
type ReplicationRun struct {
	ID      int64
	Rule    string
	Trigger string // manual, schedule, event, reconcile
	Status  string
	Error   string // why planning the run failed, or why it stopped
	// Request is the trigger's parameters (JSON, opaque here), for an
	// event-triggered run the event.
	Request    string
	CreatedAt  time.Time
	FinishedAt time.Time
	Counts     ReplicationCounts
}

// ReplicationCounts counts a run's tasks by state, and the bytes copied.
type ReplicationCounts struct {
	Pending, Running, Succeeded, Failed, Skipped int
	Bytes                                        int64
}

// ReplicationTask is one artifact of a run: copy one tag or digest (with
// everything it references and its referrers), or delete one at the
// destination.
type ReplicationTask struct {
	ID      int64
	RunID   int64
	Kind    string // "copy" or "delete"
	Source  string // repository at the source
	Dest    string // repository at the destination
	Ref     string // tag or digest
	Digest  string // the digest the plan saw at the source ("" unknown)
	Status  string
	Attempt int       // attempts made so far
	NextAt  time.Time // a pending task is not taken before
	Owner   string    // lease holder while running
	Until   time.Time // lease expiry
	Error   string    // the last attempt's failure
	Bytes   int64
	Updated time.Time
}

// ReplicationStore keeps replication configuration, runs and tasks.
type ReplicationStore interface {
	// PutReplicationConfig creates or replaces a document.
	PutReplicationConfig(ctx context.Context, c ReplicationConfig) error
	// ReplicationConfig returns one document; ErrNotFound when absent.
	ReplicationConfig(ctx context.Context, kind, name string) (ReplicationConfig, error)
	// ReplicationConfigs lists the documents of a kind by name.
	ReplicationConfigs(ctx context.Context, kind string) ([]ReplicationConfig, error)
	// DeleteReplicationConfig deletes a document; ErrNotFound when absent.
	DeleteReplicationConfig(ctx context.Context, kind, name string) error

	// CreateReplicationRun adds a run: pending when tasks is nil (its plan
	// comes later), else running with tasks, in one transaction.
	CreateReplicationRun(ctx context.Context, run ReplicationRun, tasks []ReplicationTask) (int64, error)
	// PlanReplicationRun adds a pending run's tasks and makes it running;
	// ErrConflict when the run is not pending (planned or stopped already).
	PlanReplicationRun(ctx context.Context, id int64, tasks []ReplicationTask) error
	// ReplicationRun returns a run with its counts; ErrNotFound when absent.
	ReplicationRun(ctx context.Context, id int64) (ReplicationRun, error)
	// ReplicationRuns lists runs newest first (of one rule unless rule is
	// ""), at most limit, with their counts.
	ReplicationRuns(ctx context.Context, rule string, limit int) ([]ReplicationRun, error)
	// LastFullReplicationRun returns the newest run of rule that was not
	// triggered by an event (schedules and reconciliation count from it);
	// ErrNotFound when there is none.
	LastFullReplicationRun(ctx context.Context, rule string) (ReplicationRun, error)
	// ActiveReplicationRuns lists the pending and running runs, oldest first.
	ActiveReplicationRuns(ctx context.Context) ([]ReplicationRun, error)
	// EndReplicationRun sets a run's final status unless it has one
	// already (then ErrConflict). Stopping a run (RunStopped) also skips
	// its pending and running tasks.
	EndReplicationRun(ctx context.Context, id int64, status, reason string) error

	// ClaimReplicationTasks leases up to limit tasks of a running run for
	// owner until ttl from now: pending tasks whose NextAt has come, and
	// running ones whose lease expired (their instance died). Attempt is
	// incremented.
	ClaimReplicationTasks(ctx context.Context, runID int64, owner string, ttl time.Duration, limit int) ([]ReplicationTask, error)
	// RenewReplicationTasks extends the leases of owner's running tasks
	// to ttl from now (while their copies are in flight).
	RenewReplicationTasks(ctx context.Context, owner string, ttl time.Duration) error
	// FinishReplicationTask records an attempt's outcome: status succeeded,
	// failed or skipped; or pending again with retryAt for a retry.
	// ErrConflict when owner no longer holds the task's lease.
	FinishReplicationTask(ctx context.Context, id int64, owner, status, reason string, bytes int64, retryAt time.Time) error
	// ReplicationTasks lists a run's tasks by id after after, at most
	// limit, of one status unless status is "".
	ReplicationTasks(ctx context.Context, runID int64, status string, after int64, limit int) ([]ReplicationTask, error)
}
