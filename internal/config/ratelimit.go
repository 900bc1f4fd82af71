package config

import "time"

// RateLimit bounds how fast clients may use the registry: requests per
// second (token buckets, per instance) and manifest pulls per hour (Docker
// Hub style, counted across instances through the database), per user,
// robot, anonymous client address and project. Over a limit, requests get
// 429 TOOMANYREQUESTS with Retry-After. Zero values mean no limit.
type RateLimit struct {
	User      Limit `yaml:"user"`
	Robot     Limit `yaml:"robot"`
	Anonymous Limit `yaml:"anonymous"` // per client address: pulls of public projects, or everything with auth.mode none
	Project   Limit `yaml:"project"`   // all clients together, per project
	// Sync is how often each instance adds its pull counts to the
	// database's and reads the totals: the bound of the error across
	// instances (docs/auth.md#rate-limits).
	Sync time.Duration `yaml:"sync"`
}

// Limit is one kind of client's limits; zero: none.
type Limit struct {
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	// Burst is how many requests may come at once (0: one second's worth).
	Burst                int `yaml:"burst"`
	ManifestPullsPerHour int `yaml:"manifest_pulls_per_hour"`
}

// On reports whether any limit is set.
func (r RateLimit) On() bool {
	for _, l := range []Limit{r.User, r.Robot, r.Anonymous, r.Project} {
		if l.RequestsPerSecond > 0 || l.ManifestPullsPerHour > 0 {
			return true
		}
	}
	return false
}

func defaultRateLimit() RateLimit { return RateLimit{Sync: 5 * time.Second} }

func (r RateLimit) validate(bad func(string, ...any)) {
	for name, l := range map[string]Limit{"user": r.User, "robot": r.Robot, "anonymous": r.Anonymous, "project": r.Project} {
		if l.RequestsPerSecond < 0 || l.Burst < 0 || l.ManifestPullsPerHour < 0 {
			bad("rate_limit.%s: values must not be negative", name)
		}
	}
	if r.Sync < 100*time.Millisecond || r.Sync > time.Minute {
		bad("rate_limit.sync: %v is outside 100ms..1m", r.Sync)
	}
}
