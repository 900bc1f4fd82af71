package app

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

// Backups: the backup job (internal/backup), its destination and metrics.

func (a *App) backupJob() jobs.Job {
	b := a.cfg.Backup
	runs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_backup_runs_total",
		Help: "Backups finished on this instance, by result (ok, error)."}, []string{"result"})
	copied := prometheus.NewCounter(prometheus.CounterOpts{Name: "berth_backup_copied_bytes_total",
		Help: "Blob bytes backups copied (blobs the destination already had are not counted)."})
	last := prometheus.NewGauge(prometheus.GaugeOpts{Name: "berth_backup_last_success_timestamp_seconds",
		Help: "When the last successful backup (on this instance) finished, Unix time."})
	a.metrics.registry.MustRegister(runs, copied, last)
	return backup.Job(backup.JobConfig{
		Interval: b.Interval,
		Source: backup.Source{Meta: a.meta, Blobs: a.blobs, Hold: func(ctx context.Context) (context.Context, func(), error) {
			return a.jobs.Hold(ctx, gc.JobName)
		}},
		Options:     backup.Options{Keep: b.Keep, Parallelism: b.Parallelism, Log: a.log.With("component", "backup")},
		Destination: a.backupDestination,
		Observe: func(r *backup.Report, err error) {
			if err != nil {
				runs.WithLabelValues("error").Inc()
				return
			}
			runs.WithLabelValues("ok").Inc()
			copied.Add(float64(r.CopiedBytes))
			last.Set(float64(time.Now().Unix()))
		},
	})
}

// backupDestination opens the directory dir, or else the configured
// destination.
func (a *App) backupDestination(ctx context.Context, dir string) (storage.Driver, error) {
	if dir != "" {
		return filesystem.New(dir)
	}
	d := a.cfg.Backup.Destination
	if d.Driver == "" {
		return nil, backup.ErrNoDestination
	}
	return openStorage(ctx, d.Storage())
}

// backupService is what the backup API and the web UI's backups page
// call (backup.Service).
func (a *App) backupService() *backup.Service {
	return &backup.Service{Jobs: backup.NewAPI(a.jobs), Where: backupWhere(a.cfg.Backup.Destination),
		Open: func(ctx context.Context) (storage.Driver, error) { return a.backupDestination(ctx, "") }}
}

// backupWhere describes the configured destination without its secrets.
func backupWhere(d config.BackupDestination) backup.Where {
	switch d.Driver {
	case "filesystem":
		return backup.Where{Driver: d.Driver, Location: d.Filesystem.Root}
	case "s3":
		loc := "s3://" + d.S3.Bucket
		if p := strings.Trim(d.S3.Prefix, "/"); p != "" {
			loc += "/" + p
		}
		return backup.Where{Driver: d.Driver, Location: loc, Endpoint: d.S3.Endpoint}
	}
	return backup.Where{Driver: d.Driver}
}

// backupStart serves POST /api/v1/backup: asks for a backup to the
// configured destination (400 without one), 202 and the status.
func backupStart(svc *backup.Service) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req backup.Request
		if err := jobs.DecodeRequest(r.Body, &req); err != nil {
			return manage.BadRequest(err.Error())
		}
		st, err := svc.Start(r.Context())
		if errors.Is(err, backup.ErrNoDestination) {
			return manage.BadRequest(err.Error())
		}
		if err != nil {
			return err
		}
		return manage.WriteJSON(w, http.StatusAccepted, st)
	}
}

// backupSnapshots serves GET /api/v1/backup/snapshots: the complete
// snapshots in the configured destination, oldest first.
func backupSnapshots(svc *backup.Service) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		snaps, err := svc.Snapshots(r.Context())
		if errors.Is(err, backup.ErrNoDestination) {
			return manage.BadRequest(err.Error())
		}
		if err != nil {
			return err
		}
		if snaps == nil {
			snaps = []backup.Snapshot{}
		}
		return manage.WriteJSON(w, http.StatusOK, map[string]any{"snapshots": snaps})
	}
}

// RestoreTarget is where `berth restore` puts a snapshot: the stores cfg
// names (which must be empty), without opening the metadata database.
func RestoreTarget(ctx context.Context, cfg *config.Config) (backup.Target, error) {
	if err := makeDataDir(cfg); err != nil {
		return backup.Target{}, err
	}
	d, err := openStorage(ctx, cfg.Storage)
	if err != nil {
		return backup.Target{}, err
	}
	t := backup.Target{Blobs: storage.NewBlobs(d)}
	if cfg.Database.Driver == "postgres" {
		t.PostgresDSN = cfg.Database.Postgres.DSN
	} else {
		t.SQLitePath = cfg.Database.SQLite.Path
	}
	return t, nil
}

// OpenBackupDestination opens dir, or else cfg's backup destination,
// without building an App (for `berth backup list|verify`).
func OpenBackupDestination(ctx context.Context, cfg *config.Config, dir string) (storage.Driver, error) {
	return (&App{cfg: cfg}).backupDestination(ctx, dir)
}
