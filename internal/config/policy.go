package config

import "time"

// Policy tunes the project policies: quotas, tag immutability and
// retention (docs/policies.md). The policies themselves are set per
// project through the management API.
type Policy struct {
	// QuotaUsageCache is how long a quota check may reuse a project's
	// computed usage (a refusal is always decided on a fresh one); 0
	// computes it for every check.
	QuotaUsageCache time.Duration `yaml:"quota_usage_cache"`
	// UntaggedGrace: retention never deletes an untagged manifest pushed
	// less than this long ago (it may be part of a push in progress).
	UntaggedGrace time.Duration `yaml:"untagged_grace"`
	// RetentionCheck is how often one instance looks for retention
	// policies whose schedule is due, and runs them; 0 turns scheduled
	// retention off (runs by hand still work).
	RetentionCheck time.Duration `yaml:"retention_check"`
	// MetricsProjects bounds the projects that get usage metrics (those
	// with a quota, in name order), to keep the metrics' cardinality bounded.
	MetricsProjects int `yaml:"metrics_projects"`
}

func defaultPolicy() Policy {
	return Policy{QuotaUsageCache: 10 * time.Second, UntaggedGrace: time.Hour, RetentionCheck: 10 * time.Minute, MetricsProjects: 1000}
}

func (p Policy) validate(bad func(format string, args ...any)) {
	if p.QuotaUsageCache < 0 || p.QuotaUsageCache > 10*time.Minute {
		bad("policy.quota_usage_cache: %v is outside 0..10m", p.QuotaUsageCache)
	}
	if p.UntaggedGrace < 0 {
		bad("policy.untagged_grace: must not be negative")
	}
	if p.RetentionCheck != 0 && (p.RetentionCheck < time.Minute || p.RetentionCheck > 24*time.Hour) {
		bad("policy.retention_check: %v is outside 1m..24h (0s: off)", p.RetentionCheck)
	}
	if p.MetricsProjects < 0 || p.MetricsProjects > 100000 {
		bad("policy.metrics_projects: %d is outside 0..100000", p.MetricsProjects)
	}
}
