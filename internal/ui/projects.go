package ui

import (
	"net/http"

	"github.com/berth-registry/berth/internal/meta"
)

// projectRow is one line of the projects list.
type projectRow struct {
	meta.Project
	Usage meta.Usage
	Quota meta.Quota // zero values: no quota
	Has   bool       // a quota is set
}

// projects serves GET /ui/projects: the projects the viewer may see
// (public ones, their own, every one for administrators), as
// GET /api/v1/projects lists them.
func (u *UI) projects(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	all, err := u.svc.Manager.Projects(ctx)
	if err != nil {
		return err
	}
	visible, err := u.access.Visible(r)
	if err != nil {
		return err
	}
	rows := []projectRow{}
	for _, pr := range all {
		if visible != nil && !visible(pr.Name) {
			continue
		}
		row := projectRow{Project: pr}
		if row.Usage, err = u.svc.Policy.ProjectUsage(ctx, pr.Name); err != nil {
			return err
		}
		if q, err := u.svc.Policy.Quota(ctx, pr.Name); err == nil {
			row.Quota, row.Has = q, true
		}
		rows = append(rows, row)
	}
	p := u.page(r, "projects.title")
	p.Data = rows
	return u.show(w, r, "projects", p)
}
