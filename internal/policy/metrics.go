package policy

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descStorage = prometheus.NewDesc("berth_project_storage_bytes",
		"Storage used by a project (distinct blobs and manifests), for projects with a quota.", []string{"project"}, nil)
	descQuota = prometheus.NewDesc("berth_project_quota_bytes",
		"Storage quota of a project, for projects with a storage limit.", []string{"project"}, nil)
)

// Collector exports the usage and storage quota of the projects that have
// a quota (at most max of them, in name order, so the cardinality stays
// bounded; a quota of -1 gets a project its usage metric without a
// limit). Values are computed at most every refresh, whatever the scrape
// rate.
type Collector struct {
	e       *Engine
	max     int
	refresh time.Duration

	mu   sync.Mutex
	at   time.Time
	rows []projectMetric
}

type projectMetric struct {
	project      string
	used, limit  int64
	limitVisible bool
}

// NewCollector returns the collector over the engine's store.
func NewCollector(e *Engine, max int, refresh time.Duration) *Collector {
	return &Collector{e: e, max: max, refresh: refresh}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStorage
	ch <- descQuota
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.get() {
		ch <- prometheus.MustNewConstMetric(descStorage, prometheus.GaugeValue, float64(r.used), r.project)
		if r.limitVisible {
			ch <- prometheus.MustNewConstMetric(descQuota, prometheus.GaugeValue, float64(r.limit), r.project)
		}
	}
}

func (c *Collector) get() []projectMetric {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max == 0 || (c.rows != nil && time.Since(c.at) < c.refresh) {
		return c.rows
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	quotas, err := c.e.store.Quotas(ctx)
	if err != nil {
		c.e.log.Warn("project metrics: quotas", "error", err)
		return c.rows
	}
	rows := make([]projectMetric, 0, min(len(quotas), c.max))
	for _, q := range quotas[:min(len(quotas), c.max)] {
		u, err := c.e.store.ProjectUsage(ctx, q.Project)
		if err != nil {
			c.e.log.Warn("project metrics: usage", "project", q.Project, "error", err)
			return c.rows
		}
		rows = append(rows, projectMetric{project: q.Project, used: u.StorageBytes, limit: q.StorageBytes, limitVisible: q.StorageBytes >= 0})
	}
	c.rows, c.at = rows, time.Now()
	return rows
}
