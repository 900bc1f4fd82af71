package config

import "time"

// Audit configures the audit log (docs/audit.md).
type Audit struct {
	Enabled   bool          `yaml:"enabled"`   // record audited requests
	Output    string        `yaml:"output"`    // also write JSON lines to: "" (nowhere), stdout, stderr, or a file path
	Retention time.Duration `yaml:"retention"` // delete events older than this from the database; 0 keeps them
	Buffer    int           `yaml:"buffer"`    // events waiting to be written before new ones are dropped (and counted)
	// BufferBytes bounds the waiting events by size too (each field of an
	// event is bounded; a full queue drops new events and counts them).
	BufferBytes ByteSize `yaml:"buffer_bytes"`
	// Pulls is how successful pulls are recorded: full (one event each),
	// aggregate (one per repository, reference, user, client address and
	// minute, with a count) or off. Refused and failed pulls, pushes,
	// deletes, logins and management actions are always recorded in full.
	Pulls string `yaml:"pulls"`
	// PullWindow is the period one aggregate of pulls covers.
	PullWindow time.Duration `yaml:"pull_window"`
}

func defaultAudit() Audit {
	return Audit{Enabled: true, Retention: 90 * 24 * time.Hour, Buffer: 65536, BufferBytes: 32 << 20, Pulls: "aggregate", PullWindow: time.Minute}
}

func (a Audit) validate(bad func(string, ...any)) {
	if a.Retention < 0 {
		bad("audit.retention: must not be negative")
	}
	if a.Retention > 0 && a.Retention < time.Hour {
		bad("audit.retention: at least 1h (or 0 to keep events)")
	}
	if a.Buffer < 1 || a.Buffer > 1<<22 {
		bad("audit.buffer: %d is outside 1..4194304", a.Buffer)
	}
	switch a.Pulls {
	case "full", "aggregate", "off":
	default:
		bad("audit.pulls: %q is not one of full, aggregate, off", a.Pulls)
	}
	if a.PullWindow < time.Second || a.PullWindow > time.Hour {
		bad("audit.pull_window: %s is outside 1s..1h", a.PullWindow)
	}
	if a.BufferBytes < 1<<20 || a.BufferBytes > 1<<32 {
		bad("audit.buffer_bytes: %d is outside 1MiB..4GiB", a.BufferBytes)
	}
}
