package replication

import "github.com/prometheus/client_golang/prometheus"

// Metrics are replication's Prometheus metrics.
type Metrics struct {
	runs  *prometheus.CounterVec
	tasks *prometheus.CounterVec
	bytes *prometheus.CounterVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_replication_runs_total",
			Help: "Replication runs finished, by rule and outcome (succeeded, failed, stopped)."}, []string{"rule", "outcome"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_replication_tasks_total",
			Help: "Replication task attempts, by rule and outcome (succeeded, skipped, retried, failed)."}, []string{"rule", "outcome"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_replication_bytes_total",
			Help: "Blob bytes copied by replication, by rule."}, []string{"rule"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.runs.Describe(ch)
	m.tasks.Describe(ch)
	m.bytes.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.runs.Collect(ch)
	m.tasks.Collect(ch)
	m.bytes.Collect(ch)
}
