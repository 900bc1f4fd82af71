package ui

import (
	"encoding/json"
	"net/http"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/scrub"
)

// jobPage is a job page's data: the status (run in flight, last report)
// and the history of finished runs, newest first.
type jobPage[Rep any] struct {
	jobs.RunStatus[Rep]
	Runs []jobs.PastRun[Rep]
	Kept int // how many runs the history keeps
}

// newJobPage reads a job's status and history, as GET /api/v1/{job} and
// GET /api/v1/{job}/runs.
func newJobPage[Req, Rep any](r *http.Request, api *jobs.API[Req, Rep]) (*jobPage[Rep], error) {
	st, err := api.Status(r.Context())
	if err != nil {
		return nil, err
	}
	d := &jobPage[Rep]{RunStatus: st, Kept: meta.JobRunsKept}
	if d.Runs, err = api.Runs(r.Context()); err != nil {
		return nil, err
	}
	return d, nil
}

// adminGC serves GET /ui/admin/gc: the run in flight, the last run's
// report and the recent runs, as GET /api/v1/gc and /api/v1/gc/runs.
func (u *UI) adminGC(w http.ResponseWriter, r *http.Request) error {
	d, err := newJobPage(r, u.svc.Admin.GC)
	if err != nil {
		return err
	}
	p := u.page(r, "admin.gc_title")
	p.Data = d
	return u.show(w, r, "admin_gc", p)
}

// adminGCStart serves POST /ui/admin/gc {dry_run}: asks for a run, as
// POST /api/v1/gc.
func (u *UI) adminGCStart(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.svc.Admin.GC.Request(r.Context(), gc.Request{DryRun: r.PostFormValue("dry_run") != ""}); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/gc", "flash.admin_gc_requested")
}

// adminGCStatus serves GET /ui/admin/gc/status: the state of the run in
// flight for the page's live progress (berth.js, data-progress), from the
// same status as GET /api/v1/gc, which a browser's session cannot call.
func (u *UI) adminGCStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := u.svc.Admin.GC.Status(r.Context())
	if err != nil {
		return err
	}
	l := u.page(r, "").L
	text := ""
	if st.Current != nil {
		text = l.T("admin.gc_progress", st.Phase, l.Num(st.Current.Manifests), l.Num(st.Current.Blobs), l.Size(st.Current.FreedBytes()))
	}
	return writeProgress(w, st.Running, st.Pending, text, l)
}

// adminScrub serves GET /ui/admin/scrub, as GET /api/v1/scrub and
// /api/v1/scrub/runs.
func (u *UI) adminScrub(w http.ResponseWriter, r *http.Request) error {
	d, err := newJobPage(r, u.svc.Admin.Scrub)
	if err != nil {
		return err
	}
	p := u.page(r, "admin.scrub_title")
	p.Data = d
	return u.show(w, r, "admin_scrub", p)
}

// adminScrubStart serves POST /ui/admin/scrub {repair}, as POST /api/v1/scrub.
func (u *UI) adminScrubStart(w http.ResponseWriter, r *http.Request) error {
	if _, err := u.svc.Admin.Scrub.Request(r.Context(), scrub.Request{Repair: r.PostFormValue("repair") != ""}); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/scrub", "flash.admin_scrub_requested")
}

// adminScrubStatus serves GET /ui/admin/scrub/status, as adminGCStatus.
func (u *UI) adminScrubStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := u.svc.Admin.Scrub.Status(r.Context())
	if err != nil {
		return err
	}
	l := u.page(r, "").L
	text := ""
	if st.Current != nil {
		text = l.T("admin.scrub_progress", l.Num(st.Current.Checked), l.Size(st.Current.Bytes), l.Num(st.Current.Missing), l.Num(st.Current.Corrupt))
	}
	return writeProgress(w, st.Running, st.Pending, text, l)
}

// progressJSON is what a data-progress element polls: state is running,
// queued or done; text says it in the page's language.
type progressJSON struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

func writeProgress(w http.ResponseWriter, running, pending bool, text string, l *Localizer) error {
	pj := progressJSON{State: "done", Text: l.T("admin.job_done")}
	switch {
	case running:
		pj.State = "running"
		if text == "" {
			text = l.T("admin.job_running")
		}
		pj.Text = text
	case pending:
		pj.State, pj.Text = "queued", l.T("admin.job_queued")
	}
	b, err := json.Marshal(pj)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, err = w.Write(b)
	return err
}
