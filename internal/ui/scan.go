package ui

import (
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/scan"
)

// scanData is the vulnerability part of the artifact page and the report
// page (docs/scanning.md).
type scanData struct {
	Enabled bool         // scanning is on
	Result  *scan.Result // nil: never scanned
	CanScan bool         // the viewer may ask for a scan (project admin, as the API)
}

// severityClass is the badge class of a severity.
func severityClass(s scan.Severity) string {
	switch {
	case s >= scan.SeverityHigh:
		return "warn"
	case s == scan.SeverityUnknown:
		return ""
	}
	return "ok"
}

// scanFor reads a manifest's stored scan result for its page (with the
// whole report when report is set): the same service call as
// GET /api/v1/projects/{project}/scan(-report)/{repository}.
func (u *UI) scanFor(r *http.Request, name, dgst string, report bool) (scanData, error) {
	d := scanData{Enabled: u.svc.Scan != nil}
	if !d.Enabled {
		return d, nil
	}
	d.CanScan = u.access.Authorize(r, manage.PermProjectAdmin) == nil
	res, err := u.svc.Scan.Result(r.Context(), name, dgst, report)
	switch {
	case errors.Is(err, scan.ErrNotScanned):
	case err != nil:
		return d, err
	default:
		d.Result = res
	}
	return d, nil
}

// scanReport serves GET /ui/repositories/{name}@{digest}?view=vulnerabilities:
// the findings of the manifest's last scan.
func (u *UI) scanReport(w http.ResponseWriter, r *http.Request, name, dgst string) error {
	if u.svc.Scan == nil {
		return errNotFound
	}
	a, err := u.svc.Registry.Artifact(r.Context(), name, dgst)
	if err != nil {
		return err
	}
	s, err := u.scanFor(r, name, a.Digest.String(), true)
	if err != nil {
		return err
	}
	p := u.page(r, "scan.title")
	d := u.artifactData(r, name, a)
	d.Vulnerabilities = s
	p.Data = d
	return u.show(w, r, "scan", p)
}

// requestScan handles the artifact page's scan button (action scan):
// POST /api/v1/projects/{project}/scan/{repository}?wait=true, under the
// same permission.
func (u *UI) requestScan(w http.ResponseWriter, r *http.Request, name, dgst string) error {
	if u.svc.Scan == nil || dgst == "" {
		return errNotFound
	}
	if err := u.access.Authorize(r, manage.PermProjectAdmin); err != nil {
		return err
	}
	if _, err := u.svc.Scan.Request(r.Context(), name, dgst, true); err != nil {
		key := ""
		switch {
		case errors.Is(err, scan.ErrNoDatabase):
			key = "scan.no_database"
		case errors.Is(err, scan.ErrNotScannable):
			key = "scan.not_scannable"
		default:
			return err
		}
		return u.artifactForm(w, r, name, dgst, "scan", key, "")
	}
	return u.done(w, r, artifactURL(name, dgst)+"?view=vulnerabilities", "flash.scan_done")
}
