package config

import (
	"errors"
	"fmt"
	"time"
)

// GC configures online garbage collection (docs/gc.md).
type GC struct {
	// Interval between scheduled runs (on one instance); 0 turns the
	// schedule off (runs on demand only).
	Interval time.Duration `yaml:"interval"`
	// GracePeriod: content younger than this (blobs uploaded but not yet
	// referenced, manifests pushed by digest) is never collected.
	GracePeriod time.Duration `yaml:"grace_period"`
	// UploadMaxAge: upload sessions not written for this long are purged.
	UploadMaxAge time.Duration `yaml:"upload_max_age"`
	// BatchSize is how many items one transaction handles.
	BatchSize int `yaml:"batch_size"`
	// Parallelism is how many storage deletes run at once.
	Parallelism int `yaml:"parallelism"`
	// OrphanReferrers: also collect untagged referrers (signatures, SBOMs)
	// whose subject manifest is gone.
	OrphanReferrers bool `yaml:"orphan_referrers"`
}

// Scrub configures the scheduled integrity check of stored blobs.
type Scrub struct {
	// Interval between scheduled scrubs; 0 (the default) runs them only
	// on demand (`berth scrub`).
	Interval time.Duration `yaml:"interval"`
}

// Jobs tunes the background job scheduler shared by GC, scrub and others.
type Jobs struct {
	// Lease: a job whose instance died is taken over after at most this long.
	Lease time.Duration `yaml:"lease"`
	// Poll: how often each instance looks for due jobs.
	Poll time.Duration `yaml:"poll"`
}

func defaultGC() GC {
	return GC{Interval: 24 * time.Hour, GracePeriod: 24 * time.Hour, UploadMaxAge: 24 * time.Hour,
		BatchSize: 500, Parallelism: 8, OrphanReferrers: true}
}

func defaultJobs() Jobs { return Jobs{Lease: 30 * time.Second, Poll: 10 * time.Second} }

func (c *Config) validateGC() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	g := c.GC
	if g.Interval < 0 {
		bad("gc.interval: must not be negative")
	}
	if g.GracePeriod < 0 {
		bad("gc.grace_period: must not be negative")
	}
	if g.UploadMaxAge < time.Minute {
		bad("gc.upload_max_age: at least 1m")
	}
	if g.BatchSize < 1 || g.BatchSize > 10000 {
		bad("gc.batch_size: %d is outside 1..10000", g.BatchSize)
	}
	if g.Parallelism < 1 || g.Parallelism > 256 {
		bad("gc.parallelism: %d is outside 1..256", g.Parallelism)
	}
	if c.Scrub.Interval < 0 {
		bad("scrub.interval: must not be negative")
	}
	if c.Jobs.Lease < time.Second {
		bad("jobs.lease: at least 1s")
	}
	if c.Jobs.Poll < 10*time.Millisecond {
		bad("jobs.poll: at least 10ms")
	}
	return errors.Join(errs...)
}
