package events

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/meta"
)

// Metrics are the event metrics: events recorded, deliveries by outcome
// and latency (counted by the instance that made them), and the queue
// (read from the database, so every instance reports the same).
type Metrics struct {
	recorded   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	store      meta.EventStore

	mu   sync.Mutex
	at   time.Time
	last meta.EventStats
}

var (
	descPending = prometheus.NewDesc("berth_event_deliveries_pending", "Deliveries waiting to be sent (or retried).", nil, nil)
	descDead    = prometheus.NewDesc("berth_event_deliveries_dead", "Dead-lettered deliveries (redeliver them from the API).", nil, nil)
	descAge     = prometheus.NewDesc("berth_event_queue_age_seconds", "Age of the oldest pending delivery, 0 when none.", nil, nil)
)

// NewMetrics returns the metrics over store.
func NewMetrics(store meta.EventStore) *Metrics {
	return &Metrics{store: store,
		recorded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_events_recorded_total",
			Help: "Outbox events dispatched to subscriptions, by type (each event counts once, on the instance that dispatched it)."}, []string{"type"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_event_deliveries_total",
			Help: "Delivery attempts by subscription kind and outcome (delivered, failed, dead, skipped)."}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_event_delivery_duration_seconds",
			Help: "Duration of delivery attempts.", Buckets: prometheus.ExponentialBuckets(0.005, 4, 8)}, []string{"kind"}),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.recorded.Describe(ch)
	m.deliveries.Describe(ch)
	m.latency.Describe(ch)
	ch <- descPending
	ch <- descDead
	ch <- descAge
}

// Collect implements prometheus.Collector. The queue figures are read at
// most every 10 seconds, whatever the scrape rate.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.recorded.Collect(ch)
	m.deliveries.Collect(ch)
	m.latency.Collect(ch)
	m.mu.Lock()
	if time.Since(m.at) > 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if st, err := m.store.EventStats(ctx); err == nil {
			m.last, m.at = st, time.Now()
		}
		cancel()
	}
	st := m.last
	m.mu.Unlock()
	age := 0.0
	if !st.OldestPendingAt.IsZero() {
		age = time.Since(st.OldestPendingAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(st.Dead))
	ch <- prometheus.MustNewConstMetric(descAge, prometheus.GaugeValue, age)
}
