package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/api/browseapi"
	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
)

// projectData is the project page's data: the project, its usage and
// quota, and a page of its repositories.
type projectData struct {
	Project  meta.Project
	Usage    meta.Usage
	Quota    meta.Quota
	HasQuota bool
	Repos    []meta.RepositorySummary
	Total    int64
	Query    meta.RepositoryQuery
	Sorts    []string
	Prev     string // URL of the previous page, "" on the first
	Next     string
	CanAdmin bool // project admin: settings and delete
	// Network is the project's network rule (shown to its admins).
	Network  auth.NetworkRule
	Implicit bool // repositories without a project record (pushed with auth.mode none)
}

// pageSize is the rows of a list page.
const pageSize = 50

// project serves GET /ui/projects/{project}?q=&sort=&offset=: its
// repositories, paginated on the server (GET /api/v1/projects/{project}/
// repositories), sortable by name, last push and pull count.
func (u *UI) project(w http.ResponseWriter, r *http.Request) error {
	d, err := u.projectData(r)
	if err != nil {
		return err
	}
	p := u.page(r, "project.title")
	p.Data = d
	return u.show(w, r, "project", p)
}

func (u *UI) projectData(r *http.Request) (*projectData, error) {
	ctx := r.Context()
	name := r.PathValue("project")
	pr, err := u.svc.Manager.Project(ctx, name)
	implicit := errors.Is(err, meta.ErrNotFound)
	if err != nil && !implicit {
		return nil, err
	}
	q, err := browseapi.RepositoryQuery(r)
	if err != nil {
		return nil, err
	}
	if r.URL.Query().Get("limit") == "" {
		q.Limit = pageSize
	}
	d := &projectData{Project: pr, Query: q, Sorts: []string{meta.SortName, meta.SortPushed, meta.SortPulls}}
	if d.Repos, d.Total, err = u.svc.Registry.RepositoryList(ctx, q); err != nil {
		if errors.Is(err, registry.ErrInvalidQuery) {
			return nil, manage.BadRequest(err.Error())
		}
		return nil, err
	}
	if implicit {
		// Repositories pushed with access control off have no project
		// record: the page lists them (permissions already passed), with
		// no settings to change.
		if d.Total == 0 && q.Filter == "" {
			return nil, errNotFound
		}
		d.Project = meta.Project{Name: name}
		d.Implicit = true
	}
	if d.Usage, err = u.svc.Policy.RecentUsage(ctx, name, usageMaxAge); err != nil {
		return nil, err
	}
	if qt, err := u.svc.Policy.Quota(ctx, name); err == nil {
		d.Quota, d.HasQuota = qt, true
	}
	d.CanAdmin = !d.Implicit && u.access.Authorize(r, manage.PermProjectAdmin) == nil
	if d.CanAdmin {
		if d.Network, err = u.svc.Manager.ProjectNetworkRule(ctx, name); err != nil {
			return nil, err
		}
	}
	d.Prev, d.Next = pager(r.URL, q.Offset, q.Limit, int(d.Total))
	return d, nil
}

// pager returns the URLs of the previous and next pages ("" for none),
// keeping the other query parameters.
func pager(u *url.URL, offset, limit, total int) (prev, next string) {
	link := func(off int) string {
		v := u.Query()
		v.Set("offset", strconv.Itoa(off))
		return u.Path + "?" + v.Encode()
	}
	if offset > 0 {
		prev = link(max(offset-limit, 0))
	}
	if offset+limit < total {
		next = link(offset + limit)
	}
	return prev, next
}

// projectSettings serves POST /ui/projects/{project}/settings (public),
// as PATCH /api/v1/projects/{project}.
func (u *UI) projectSettings(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	if err := u.svc.Manager.SetPublic(r.Context(), name, r.PostFormValue("public") == "on"); err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects/"+pathEscape(name), "flash.project_saved")
}

// projectNetwork serves POST /ui/projects/{project}/network {pull, push}
// (one address or CIDR a line), as PUT /api/v1/projects/{project}/network-rule.
func (u *UI) projectNetwork(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	rule := auth.NetworkRule{Pull: lines(r.PostFormValue("pull")), Push: lines(r.PostFormValue("push"))}
	_, err := u.svc.Manager.SetProjectNetworkRule(r.Context(), name, rule)
	var fe *auth.FieldError
	if errors.As(err, &fe) {
		d, derr := u.projectData(r)
		if derr != nil {
			return derr
		}
		d.Network = rule
		p := u.page(r, "project.title")
		p.Data = d
		p.Errors = map[string]string{"network_" + fe.Field: "project.network_invalid"}
		return u.invalid(w, r, "project", p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects/"+pathEscape(name), "flash.project_saved")
}

// lines splits a textarea into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// deleteProject serves POST /ui/projects/{project}/delete, as
// DELETE /api/v1/projects/{project}: only an empty project goes.
func (u *UI) deleteProject(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("project")
	err := u.svc.Manager.DeleteProject(r.Context(), name)
	if errors.Is(err, auth.ErrNotEmpty) {
		d, derr := u.projectData(r)
		if derr != nil {
			return derr
		}
		p := u.page(r, "project.title")
		p.Data = d
		p.Errors = map[string]string{"delete": "project.delete_not_empty"}
		return u.invalid(w, r, "project", p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects", "flash.project_deleted")
}
