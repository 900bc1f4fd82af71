package app

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/anomaly"
)

// The metrics the shipped alert rules and dashboard need beyond request
// counts (deploy/prometheus, docs/operations.md): pull and push outcomes,
// login outcomes and latency, the capacity of the data filesystems, and
// whether the database and the blob storage answer.

// pullRoutes and pushRoutes are the /v2/ routes that count as a pull or a
// push, with the kind of object they move.
var (
	pullRoutes = map[string]string{"manifest_get": "manifest", "blob_get": "blob"}
	pushRoutes = map[string]string{"manifest_put": "manifest", "upload_put": "blob"}
)

// outcome names the result of a pull or push from its HTTP status:
// success; the client's doing (unauthorized, denied, not_found, throttled,
// rejected); or error, the registry's failure (5xx).
func outcome(status int) string {
	switch {
	case status < 400:
		return "success"
	case status == http.StatusUnauthorized:
		return "unauthorized"
	case status == http.StatusForbidden:
		return "denied"
	case status == http.StatusNotFound:
		return "not_found"
	case status == http.StatusTooManyRequests:
		return "throttled"
	case status < 500:
		return "rejected"
	default:
		return "error"
	}
}

// opsMetrics are pull/push/login outcomes.
type opsMetrics struct {
	pulls  *prometheus.CounterVec
	pushes *prometheus.CounterVec
	logins *prometheus.HistogramVec
	// anomalies counts pull-anomaly findings by kind (internal/anomaly).
	anomalies *prometheus.CounterVec
}

func newOpsMetrics(reg *prometheus.Registry) *opsMetrics {
	m := &opsMetrics{
		pulls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_pulls_total", Help: "Manifest and blob GETs by kind and result (success, error = 5xx, or the client's: unauthorized, denied, not_found, throttled, rejected).",
		}, []string{"kind", "result"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_pushes_total", Help: "Manifest PUTs and finished blob uploads by kind and result (as berth_pulls_total).",
		}, []string{"kind", "result"}),
		logins: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_login_duration_seconds", Help: "Password logins (Basic auth and the token endpoint) by result (success, cached, failure, throttled, unavailable), with their latency.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"result"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_anomalies_total", Help: "Pull anomalies found by the anomaly job, by kind (docs/operations.md).",
		}, []string{"kind"}),
	}
	// Known label values exist from the start, so rates and ratios are
	// defined before the first failure.
	for _, kind := range []string{"manifest", "blob"} {
		for _, r := range []string{"success", "error"} {
			m.pulls.WithLabelValues(kind, r)
			m.pushes.WithLabelValues(kind, r)
		}
	}
	for _, r := range []string{"success", "failure"} {
		m.logins.WithLabelValues(r)
	}
	for _, k := range anomaly.Kinds {
		m.anomalies.WithLabelValues(k)
	}
	reg.MustRegister(m.pulls, m.pushes, m.logins, m.anomalies)
	return m
}

// counter is the outcome counter a finished request of route with status
// counts in, if it is a pull or a push; nil otherwise.
func (m *opsMetrics) counter(route string, status int) prometheus.Counter {
	if kind, ok := pullRoutes[route]; ok {
		return m.pulls.WithLabelValues(kind, outcome(status))
	}
	if kind, ok := pushRoutes[route]; ok {
		return m.pushes.WithLabelValues(kind, outcome(status))
	}
	return nil
}

// observeLogin is auth.Options.ObserveLogin.
func (m *opsMetrics) observeLogin(result string, d time.Duration) {
	m.logins.WithLabelValues(result).Observe(d.Seconds())
}

var (
	descFSSize = prometheus.NewDesc("berth_filesystem_size_bytes",
		"Size of the filesystem holding a Berth volume (storage: the blob directory; database: the SQLite file's directory).", []string{"volume", "path"}, nil)
	descFSAvail = prometheus.NewDesc("berth_filesystem_avail_bytes",
		"Bytes free for Berth (not reserved for root) on the filesystem holding a volume.", []string{"volume", "path"}, nil)
	descReady = prometheus.NewDesc("berth_ready",
		"1 when a component Berth needs answers (database, storage), else 0; as /readyz checks them.", []string{"component"}, nil)
)

// volume is a local directory whose filesystem capacity is exported.
type volume struct{ name, path string }

// opsCollector exports the filesystem capacity of the local volumes and
// the readiness of the database and storage, computed at each scrape.
type opsCollector struct {
	volumes []volume
	ready   func(ctx context.Context) map[string]error
}

// Describe implements prometheus.Collector.
func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFSSize
	ch <- descFSAvail
	ch <- descReady
}

// Collect implements prometheus.Collector.
func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, v := range c.volumes {
		size, avail, err := fsCapacity(v.path)
		if err != nil {
			continue // the directory is gone: readiness says so
		}
		ch <- prometheus.MustNewConstMetric(descFSSize, prometheus.GaugeValue, float64(size), v.name, v.path)
		ch <- prometheus.MustNewConstMetric(descFSAvail, prometheus.GaugeValue, float64(avail), v.name, v.path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for comp, err := range c.ready(ctx) {
		up := 1.0
		if err != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(descReady, prometheus.GaugeValue, up, comp)
	}
}
