package config

import "time"

// Events configures the event outbox and webhook delivery (docs/events.md).
type Events struct {
	// Pulls also records an event for every manifest pull (high volume).
	Pulls bool `yaml:"pulls"`
	// QuotaThresholds are the usage percentages of a project's quota
	// whose crossing records a quota.warning event (quota.exceeded is
	// recorded at 100%).
	QuotaThresholds []int `yaml:"quota_thresholds"`
	// MaxRetry: a delivery still failing this long after its event was
	// recorded is dead-lettered.
	MaxRetry time.Duration `yaml:"max_retry"`
	// Retention: delivered and dead deliveries, and events no delivery
	// needs, are purged after this long.
	Retention time.Duration `yaml:"retention"`
	// Timeout bounds one delivery attempt (connect, send, response).
	Timeout time.Duration `yaml:"timeout"`
	// Workers is how many deliveries one instance sends at once.
	Workers int `yaml:"workers"`
	// Poll: how often each instance looks for due deliveries (a push on
	// the same instance wakes it at once).
	Poll time.Duration `yaml:"poll"`
	// AllowPrivateTargets lets webhooks reach loopback, link-local and
	// private addresses (refused by default: server-side request forgery).
	AllowPrivateTargets bool `yaml:"allow_private_targets"`
	// ExternalURL is the registry's address as receivers should see it,
	// used in links inside payloads (Harbor's resource_url, CloudEvents
	// source); empty: "berth".
	ExternalURL string `yaml:"external_url"`
}

func defaultEvents() Events {
	return Events{QuotaThresholds: []int{80, 90}, MaxRetry: 24 * time.Hour, Retention: 7 * 24 * time.Hour,
		Timeout: 10 * time.Second, Workers: 4, Poll: time.Second}
}

func (e Events) validate(bad func(string, ...any)) {
	for _, p := range e.QuotaThresholds {
		if p <= 0 || p >= 100 {
			bad("events.quota_thresholds: %d is not a percentage between 1 and 99", p)
		}
	}
	if e.MaxRetry < time.Minute {
		bad("events.max_retry: must be at least 1m")
	}
	if e.Retention < time.Hour {
		bad("events.retention: must be at least 1h")
	}
	if e.Timeout <= 0 || e.Timeout > 5*time.Minute {
		bad("events.timeout: must be between 0 and 5m")
	}
	if e.Workers < 1 || e.Workers > 256 {
		bad("events.workers: must be between 1 and 256")
	}
	if e.Poll < 10*time.Millisecond {
		bad("events.poll: must be at least 10ms")
	}
}
