package proxy

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stats counts what one upstream served since this process started.
type stats struct {
	manifestHits   atomic.Int64 // served from the cache (fresh, or confirmed by a HEAD)
	manifestMisses atomic.Int64 // fetched from the upstream
	manifestStale  atomic.Int64 // served from the cache because the upstream failed
	blobHits       atomic.Int64
	blobMisses     atomic.Int64 // fetched (concurrent pulls of one blob count once each, share one fetch)
	blobFetches    atomic.Int64 // upstream blob downloads started
	bytesFetched   atomic.Int64
	errors         atomic.Int64 // pulls that failed because of the upstream
	evicted        atomic.Int64 // manifests evicted
	cacheBytes     atomic.Int64 // usage at the last eviction pass

	mu        sync.Mutex
	lastError string
	lastAt    time.Time
}

func (s *stats) fail(msg string, at time.Time) {
	s.errors.Add(1)
	s.mu.Lock()
	s.lastError, s.lastAt = msg, at
	s.mu.Unlock()
}

func (s *stats) last() (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError, s.lastAt
}

var (
	descPulls = prometheus.NewDesc("berth_proxy_pulls_total",
		"Pulls through the pull-through cache by upstream, kind (manifest, blob) and result (hit, miss, stale).",
		[]string{"upstream", "kind", "result"}, nil)
	descErrors = prometheus.NewDesc("berth_proxy_errors_total",
		"Pulls through the cache that failed because of the upstream.", []string{"upstream"}, nil)
	descFetches = prometheus.NewDesc("berth_proxy_blob_fetches_total",
		"Blob downloads from the upstream (concurrent pulls of one blob share one).", []string{"upstream"}, nil)
	descBytes = prometheus.NewDesc("berth_proxy_fetched_bytes_total",
		"Blob bytes downloaded from the upstream.", []string{"upstream"}, nil)
	descEvicted = prometheus.NewDesc("berth_proxy_evicted_manifests_total",
		"Cached manifests evicted by the size and age limits.", []string{"upstream"}, nil)
	descCache = prometheus.NewDesc("berth_proxy_cache_bytes",
		"Bytes cached from the upstream, as of the last eviction pass.", []string{"upstream"}, nil)
)

// Describe implements prometheus.Collector.
func (p *Proxy) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPulls, descErrors, descFetches, descBytes, descEvicted, descCache} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (p *Proxy) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, u := range p.ups {
		n, s := u.cfg.Name, &u.stats
		counter(descPulls, s.manifestHits.Load(), n, "manifest", "hit")
		counter(descPulls, s.manifestMisses.Load(), n, "manifest", "miss")
		counter(descPulls, s.manifestStale.Load(), n, "manifest", "stale")
		counter(descPulls, s.blobHits.Load(), n, "blob", "hit")
		counter(descPulls, s.blobMisses.Load(), n, "blob", "miss")
		counter(descErrors, s.errors.Load(), n)
		counter(descFetches, s.blobFetches.Load(), n)
		counter(descBytes, s.bytesFetched.Load(), n)
		counter(descEvicted, s.evicted.Load(), n)
		ch <- prometheus.MustNewConstMetric(descCache, prometheus.GaugeValue, float64(s.cacheBytes.Load()), n)
	}
}
