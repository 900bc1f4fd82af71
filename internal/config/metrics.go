package config

import "strings"

// Metrics configures who can read the Prometheus metrics: they name
// projects (private ones included) and upstreams.
type Metrics struct {
	// Addr, when set, serves /metrics on this separate address only (keep
	// it on loopback or an internal network); the API listener then
	// answers /metrics with 404.
	Addr string `yaml:"addr"`
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// /metrics, on whichever listener serves it (Prometheus:
	// authorization.credentials).
	Token string `yaml:"token"`
}

func (m Metrics) validate(bad func(string, ...any)) {
	if m.Token != "" && (len(m.Token) < 16 || strings.ContainsAny(m.Token, " \t\r\n")) {
		bad("metrics.token: at least 16 characters, no spaces")
	}
}
