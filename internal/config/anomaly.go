package config

import "time"

// Anomaly configures pull-anomaly detection over the audit log
// (docs/operations.md#pull-anomaly-detection). It needs audit.enabled.
type Anomaly struct {
	Enabled bool `yaml:"enabled"`
	// Interval between the job's runs (on one instance); each run reads
	// the audit events recorded since the last.
	Interval time.Duration `yaml:"interval"`
	// Batch: audit events folded into the baselines between two
	// checkpoints (one transaction saving baselines, findings and the
	// position in the audit log).
	Batch int `yaml:"batch"`
	// Window: the sliding window of the baselines.
	Window time.Duration `yaml:"window"`
	// MinHistory: an identity is judged against its baseline (bursts, new
	// networks, off hours) only once it has been seen this long.
	MinHistory time.Duration `yaml:"min_history"`
	// K: an hour is a burst above median + K·MAD of the identity's active
	// hours in the window.
	K float64 `yaml:"k"`
	// MinBurst and MinBurstRepositories: absolute floors below which an
	// hour is never a burst (pulls; distinct repositories).
	MinBurst             int `yaml:"min_burst"`
	MinBurstRepositories int `yaml:"min_burst_repositories"`
	// FailedPulls: failed pulls (401, 403, 404) of one identity in an hour
	// that flag enumeration (when also above its baseline).
	FailedPulls int `yaml:"failed_pulls"`
	// OffHoursMinActive: active hours in the window an identity needs
	// before pulls outside its usual hours are flagged.
	OffHoursMinActive int `yaml:"off_hours_min_active"`
	// RobotOverlap: a robot pulling from two networks within this long is
	// flagged as used from two networks at once.
	RobotOverlap time.Duration `yaml:"robot_overlap"`
	// IPv4Prefix and IPv6Prefix: the size of a "network" (a new network is
	// a new prefix of this length).
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

func defaultAnomaly() Anomaly {
	return Anomaly{Enabled: true, Interval: 10 * time.Minute, Batch: 200000, Window: 28 * 24 * time.Hour,
		MinHistory: 7 * 24 * time.Hour, K: 6, MinBurst: 50, MinBurstRepositories: 10, FailedPulls: 20,
		OffHoursMinActive: 40, RobotOverlap: 5 * time.Minute, IPv4Prefix: 24, IPv6Prefix: 48}
}

func (a Anomaly) validate(bad func(string, ...any)) {
	if a.Interval < time.Second {
		bad("anomaly.interval: %v is under 1s", a.Interval)
	}
	if a.Batch < 100 || a.Batch > 10000000 {
		bad("anomaly.batch: %d is outside 100..10000000", a.Batch)
	}
	if a.Window < 24*time.Hour || a.Window > 366*24*time.Hour {
		bad("anomaly.window: %v is outside 24h..366 days", a.Window)
	}
	if a.MinHistory < 0 || a.MinHistory > a.Window {
		bad("anomaly.min_history: %v is outside 0..window (%v)", a.MinHistory, a.Window)
	}
	if a.K <= 0 || a.K > 1000 {
		bad("anomaly.k: %v is outside (0, 1000]", a.K)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"min_burst", a.MinBurst}, {"min_burst_repositories", a.MinBurstRepositories}, {"failed_pulls", a.FailedPulls},
		{"off_hours_min_active", a.OffHoursMinActive}} {
		if v.n < 1 {
			bad("anomaly.%s: %d must be at least 1", v.name, v.n)
		}
	}
	if a.RobotOverlap < 0 {
		bad("anomaly.robot_overlap: must not be negative")
	}
	if a.IPv4Prefix < 8 || a.IPv4Prefix > 32 {
		bad("anomaly.ipv4_prefix: %d is outside 8..32", a.IPv4Prefix)
	}
	if a.IPv6Prefix < 16 || a.IPv6Prefix > 128 {
		bad("anomaly.ipv6_prefix: %d is outside 16..128", a.IPv6Prefix)
	}
}
