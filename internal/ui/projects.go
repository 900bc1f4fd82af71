package ui

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// projectRow is one line of the projects list.
type projectRow struct {
	meta.Project
	Usage meta.Usage
	Quota meta.Quota
	Has   bool // a quota is set
}

// usageMaxAge is how old the usage the lists show may be.
const usageMaxAge = time.Minute

// projectsData is the projects page's data.
type projectsData struct {
	Projects  []projectRow
	MayCreate bool
}

// projects serves GET /ui/projects: the projects the viewer may see
// (public ones, their own, every one for administrators), as
// GET /api/v1/projects lists them, with usage and quota.
func (u *UI) projects(w http.ResponseWriter, r *http.Request) error {
	p := u.page(r, "projects.title")
	d, err := u.projectsData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "projects", p)
}

func (u *UI) projectsData(r *http.Request) (*projectsData, error) {
	ctx := r.Context()
	all, err := u.svc.Manager.Projects(ctx)
	if err != nil {
		return nil, err
	}
	visible, err := u.access.Visible(r)
	if err != nil {
		return nil, err
	}
	quotas, err := u.svc.Policy.Store().Quotas(ctx)
	if err != nil {
		return nil, err
	}
	byProject := map[string]meta.Quota{}
	for _, q := range quotas {
		byProject[q.Project] = q
	}
	d := &projectsData{Projects: []projectRow{}, MayCreate: viewer(r).LoggedIn && u.access.MayCreateProject(r) || u.auth == nil}
	for _, pr := range all {
		if visible != nil && !visible(pr.Name+"/") {
			continue
		}
		row := projectRow{Project: pr}
		if row.Usage, err = u.svc.Policy.RecentUsage(ctx, pr.Name, usageMaxAge); err != nil {
			return nil, err
		}
		row.Quota, row.Has = byProject[pr.Name]
		d.Projects = append(d.Projects, row)
	}
	return d, nil
}

// createProject serves POST /ui/projects (name, public): the same
// creation as POST /api/v1/projects, the creator becoming its admin.
func (u *UI) createProject(w http.ResponseWriter, r *http.Request) error {
	if !u.access.MayCreateProject(r) {
		return errForbidden
	}
	name, public := strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("public") == "on"
	creator := viewer(r).Name
	err := u.svc.Manager.CreateProject(r.Context(), name, public, creator)
	field := ""
	switch {
	case err == nil:
		return u.done(w, r, "/ui/projects/"+pathEscape(name), "flash.project_created")
	case name == "":
		field = "projects.name_required"
	case errors.Is(err, auth.ErrInvalid):
		field = "projects.name_invalid"
	case errors.Is(err, meta.ErrExists):
		field = "projects.name_taken"
	default:
		return err
	}
	p := u.page(r, "projects.title")
	d, err := u.projectsData(r)
	if err != nil {
		return err
	}
	p.Data = d
	p.Errors = map[string]string{"name": field}
	p.Form = map[string]string{"name": name}
	if public {
		p.Form["public"] = "on"
	}
	return u.invalid(w, r, "projects", p)
}
