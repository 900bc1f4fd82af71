package trust

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics count verifications by result and pull decisions.
type metrics struct {
	verifications *prometheus.CounterVec
	decisions     *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_signature_verifications_total",
			Help: "Signature verifications of a manifest under a rule, by result (met, unmet, no_signature)."}, []string{"result"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_signature_pull_decisions_total",
			Help: "Pull gate decisions on manifests under a signature policy (allowed, denied, audited, exempt)."}, []string{"decision"}),
	}
}

func (m *metrics) observe(st *Status) {
	for _, rs := range st.Rules {
		switch {
		case rs.Met:
			m.verifications.WithLabelValues("met").Inc()
		case rs.Reason == ReasonNoSignature:
			m.verifications.WithLabelValues("no_signature").Inc()
		default:
			m.verifications.WithLabelValues("unmet").Inc()
		}
	}
}

func (m *metrics) decision(d string) { m.decisions.WithLabelValues(d).Inc() }

// Collectors are the service's Prometheus metrics, for registration.
func (s *Service) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.metrics.verifications, s.metrics.decisions}
}
