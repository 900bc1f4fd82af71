package config

import "time"

// Replication tunes replication between registries (docs/replication.md).
// Registries and rules are not configured here: an administrator manages
// them through the API (they live in the metadata database).
type Replication struct {
	Enabled bool `yaml:"enabled"`
	// Interval between looks of the replication job for due schedules,
	// new runs and tasks whose retry time has come (on one instance).
	Interval time.Duration `yaml:"interval"`
	// Reconcile: every rule triggered by events also runs in full this
	// often, comparing source and destination and fixing drift that
	// events missed (0: never).
	Reconcile time.Duration `yaml:"reconcile"`
	// Attempts per task before it fails for good; RetryBase the first
	// back-off, doubled per attempt up to RetryMax.
	Attempts  int           `yaml:"attempts"`
	RetryBase time.Duration `yaml:"retry_base"`
	RetryMax  time.Duration `yaml:"retry_max"`
	// TaskLease: how long a task stays with an instance without renewal
	// (a dead instance's tasks are taken over after this).
	TaskLease time.Duration `yaml:"task_lease"`
	// Timeout of one request to a remote registry (response headers; a
	// blob body streams for as long as it takes).
	Timeout time.Duration `yaml:"timeout"`
}

func defaultReplication() Replication {
	return Replication{Enabled: true, Interval: 10 * time.Second, Reconcile: time.Hour, Attempts: 10,
		RetryBase: 5 * time.Second, RetryMax: 10 * time.Minute, TaskLease: time.Minute, Timeout: time.Minute}
}

func (r Replication) validate(bad func(string, ...any)) {
	if r.Interval < 100*time.Millisecond {
		bad("replication.interval: %v is under 100ms", r.Interval)
	}
	if r.Reconcile != 0 && r.Reconcile < time.Minute {
		bad("replication.reconcile: %v is under 1m (0 turns it off)", r.Reconcile)
	}
	if r.Attempts < 1 || r.Attempts > 100 {
		bad("replication.attempts: %d is outside 1..100", r.Attempts)
	}
	if r.RetryBase < 10*time.Millisecond || r.RetryMax < r.RetryBase {
		bad("replication.retry_base and retry_max: want 10ms <= retry_base <= retry_max")
	}
	if r.TaskLease < time.Second {
		bad("replication.task_lease: %v is under 1s", r.TaskLease)
	}
	if r.Timeout < time.Second {
		bad("replication.timeout: %v is under 1s", r.Timeout)
	}
}
