package ui

import (
	"github.com/berth-registry/berth/internal/anomaly"
	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/proxy"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/scrub"
	"github.com/berth-registry/berth/internal/sysinfo"
)

// AdminServices are what the management pages call besides Services:
// the same objects the matching /api/v1 handlers call.
type AdminServices struct {
	Retention *policy.Retention
	GC        *jobs.API[gc.Request, gc.Report]
	Scrub     *jobs.API[scrub.Request, scrub.Report]
	Proxy     *proxy.Proxy
	ProxySync *proxy.SyncAPI
	Audit     meta.AuditStore
	System    *sysinfo.Source
	Anomalies *anomaly.Detector
	// Replication is the same service as /api/v1/replication.
	Replication *replication.Service
	// Backup is the same service as /api/v1/backup.
	Backup *backup.Service
}
