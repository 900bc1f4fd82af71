package app

import (
	"context"
	"errors"
	"net/http"
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

// errNoBackupDestination: a backup was asked for without a destination.
var errNoBackupDestination = errors.New("backup: no destination: configure backup.destination (or run `berth backup --to DIR`)")

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
		return nil, errNoBackupDestination
	}
	return openStorage(ctx, d.Storage())
}

// backupSnapshots serves GET /api/v1/backup/snapshots: the complete
// snapshots in the configured destination, oldest first.
func (a *App) backupSnapshots(w http.ResponseWriter, r *http.Request) error {
	dest, err := a.backupDestination(r.Context(), "")
	if errors.Is(err, errNoBackupDestination) {
		return manage.BadRequest(err.Error())
	}
	if err != nil {
		return err
	}
	snaps, err := backup.List(r.Context(), dest)
	if err != nil {
		return err
	}
	if snaps == nil {
		snaps = []backup.Snapshot{}
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"snapshots": snaps})
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
