package app

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-registry/berth/internal/buildinfo"
	"github.com/berth-registry/berth/internal/meta"
)

// metrics are the Prometheus metrics Berth exports at /metrics.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	ops      *opsMetrics
	children sync.Map // requestKey -> *requestMetrics, resolved once
}

// requestKey names the metric children one kind of request updates.
type requestKey struct {
	route, method string
	status        int
}

// requestMetrics are the children of every vector a request of one
// requestKey updates, looked up once: WithLabelValues hashes its labels
// and takes a lock on every call, a few percent of a manifest GET.
type requestMetrics struct {
	requests, bytesIn, bytesOut prometheus.Counter
	latency                     prometheus.Observer
	outcome                     prometheus.Counter // berth_pulls_total or berth_pushes_total; nil for other routes
}

func newMetrics(store meta.Store) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_http_request_duration_seconds", Help: "HTTP request latency by route and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "status"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_received_bytes_total", Help: "Request body bytes received, by route.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_sent_bytes_total", Help: "Response body bytes sent, by route.",
		}, []string{"route"}),
	}
	stats := &blobStats{store: store}
	bi := buildinfo.Get()
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "berth_build_info", Help: "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "commit": bi.ShortCommit(), "goversion": bi.GoVersion},
	})
	build.Set(1)
	m.registry.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, build,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_blobs_stored", Help: "Blobs stored."},
			func() float64 { c, _ := stats.get(); return float64(c) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_blob_bytes_stored", Help: "Bytes of stored blobs."},
			func() float64 { _, b := stats.get(); return float64(b) }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.ops = newOpsMetrics(m.registry)
	return m
}

func (m *metrics) observe(route, method string, status int, d time.Duration, in, out int64) {
	k := requestKey{route, method, status}
	v, ok := m.children.Load(k)
	if !ok {
		code := strconv.Itoa(status)
		v, _ = m.children.LoadOrStore(k, &requestMetrics{
			requests: m.requests.WithLabelValues(route, method, code),
			latency:  m.latency.WithLabelValues(route, code),
			bytesIn:  m.bytesIn.WithLabelValues(route),
			bytesOut: m.bytesOut.WithLabelValues(route),
			outcome:  m.ops.counter(route, status),
		})
	}
	c := v.(*requestMetrics)
	c.requests.Inc()
	c.latency.Observe(d.Seconds())
	if c.outcome != nil {
		c.outcome.Inc()
	}
	if in > 0 {
		c.bytesIn.Add(float64(in))
	}
	if out > 0 {
		c.bytesOut.Add(float64(out))
	}
}

// blobStats reads the blob totals once per scrape (both gauges share it).
type blobStats struct {
	store meta.Store
	mu    sync.Mutex
	at    time.Time
	count int64
	bytes int64
}

func (s *blobStats) get() (int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) > time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c, b, err := s.store.BlobStats(ctx); err == nil {
			s.count, s.bytes, s.at = c, b, time.Now()
		}
	}
	return s.count, s.bytes
}

// MetricsHandler serves the Prometheus metrics (GET /metrics): on the API
// listener unless metrics.addr gives them their own (berth serve runs it),
// and behind metrics.token when set. The metrics name private projects
// and upstreams: expose them to the monitoring system only.
func (a *App) MetricsHandler() http.Handler {
	h := promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{})
	token := []byte(a.cfg.Metrics.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeText(w, http.StatusMethodNotAllowed, "method not allowed\n")
			return
		}
		if len(token) > 0 {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="berth metrics"`)
				writeText(w, http.StatusUnauthorized, "metrics need the bearer token of metrics.token\n")
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
