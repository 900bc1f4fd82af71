package ui

import (
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/backup"
)

// backupsPage is the backups page's data: the job's status and history,
// the configured destination and its complete snapshots, newest first.
type backupsPage struct {
	*jobPage[backup.Report]
	Where     backup.Where
	Snapshots []backup.Snapshot
	// ListFailed: the destination could not be listed (details logged).
	ListFailed bool
}

// adminBackups serves GET /ui/admin/backups: the destination, the run in
// flight, the last and recent runs and the snapshots, as GET
// /api/v1/backup, /api/v1/backup/runs and /api/v1/backup/snapshots.
func (u *UI) adminBackups(w http.ResponseWriter, r *http.Request) error {
	d, err := u.backupsData(r)
	if err != nil {
		return err
	}
	p := u.page(r, "admin.backups_title")
	p.Data = d
	return u.show(w, r, "admin_backups", p)
}

func (u *UI) backupsData(r *http.Request) (*backupsPage, error) {
	svc := u.svc.Admin.Backup
	jp, err := newJobPage(r, svc.Jobs)
	if err != nil {
		return nil, err
	}
	d := &backupsPage{jobPage: jp, Where: svc.Where}
	if svc.Where.Driver == "" {
		return d, nil
	}
	snaps, err := svc.Snapshots(r.Context())
	if err != nil {
		u.log.WarnContext(r.Context(), "ui: backup snapshots", "error", err)
		d.ListFailed = true
	}
	for i := len(snaps) - 1; i >= 0; i-- {
		d.Snapshots = append(d.Snapshots, snaps[i])
	}
	return d, nil
}

// adminBackupsStart serves POST /ui/admin/backups: asks for a backup to
// the configured destination, as POST /api/v1/backup; without a
// destination the page says so (422) and nothing is asked for.
func (u *UI) adminBackupsStart(w http.ResponseWriter, r *http.Request) error {
	_, err := u.svc.Admin.Backup.Start(r.Context())
	if errors.Is(err, backup.ErrNoDestination) {
		d, derr := u.backupsData(r)
		if derr != nil {
			return derr
		}
		p := formPage(u.page(r, "admin.backups_title"))
		p.Data = d
		p.Errors["backup"] = "admin.backups_no_destination_refused"
		return u.invalid(w, r, "admin_backups", p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/backups", "flash.admin_backup_requested")
}

// adminBackupsStatus serves GET /ui/admin/backups/status, as adminGCStatus.
func (u *UI) adminBackupsStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := u.svc.Admin.Backup.Jobs.Status(r.Context())
	if err != nil {
		return err
	}
	return writeProgress(w, st.Running, st.Pending, "", u.page(r, "").L)
}
