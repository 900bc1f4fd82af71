package ui

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// roles are the project roles, strongest first, with their catalog keys.
var roles = []option{
	{auth.RoleAdmin, "members.role_admin"},
	{auth.RoleMaintainer, "members.role_maintainer"},
	{auth.RoleDeveloper, "members.role_developer"},
	{auth.RoleGuest, "members.role_guest"},
}

// option is a value of a select with its catalog key.
type option struct{ Value, Key string }

// memberRow is a member (or one of the viewer's memberships) for a template.
type memberRow struct{ meta.Member }

// RoleKey is the catalog key of the member's role.
func (m memberRow) RoleKey() string {
	for _, o := range roles {
		if o.Value == m.Role {
			return o.Key
		}
	}
	return m.Role
}

func memberRows(ms []meta.Member) []memberRow {
	out := make([]memberRow, len(ms))
	for i, m := range ms {
		out[i] = memberRow{m}
	}
	return out
}

// membersData is the members page's data.
type membersData struct {
	Project  string
	Members  []memberRow
	Roles    []option
	CanAdmin bool // may add, change and remove members (and see robots)
}

// members serves GET /ui/projects/{project}/members, as
// GET /api/v1/projects/{project}/members.
func (u *UI) members(w http.ResponseWriter, r *http.Request) error {
	return u.membersPage(w, r, formPage(u.page(r, "members.title")), http.StatusOK)
}

func (u *UI) membersPage(w http.ResponseWriter, r *http.Request, p *Page, status int) error {
	project := r.PathValue("project")
	ms, err := u.svc.Manager.Members(r.Context(), project)
	if err != nil {
		return err
	}
	p.Data = membersData{Project: project, Members: memberRows(ms), Roles: roles, CanAdmin: u.can(r, manage.PermProjectAdmin)}
	if status != http.StatusOK {
		return u.invalid(w, r, "members", p)
	}
	return u.show(w, r, "members", p)
}

// memberPut serves POST /ui/projects/{project}/members {kind, name, role}:
// adds a member or changes its role, as PUT .../members/{kind}/{name}.
func (u *UI) memberPut(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "members.title"))
	kind, name, role := r.PostFormValue("kind"), strings.TrimSpace(r.PostFormValue("name")), r.PostFormValue("role")
	p.Form["kind"], p.Form["name"], p.Form["role"] = kind, name, role
	err := u.svc.Manager.PutMember(r.Context(), project, kind, name, role)
	if fieldError(p, err, map[string][2]string{"kind": {"kind", "members.kind_invalid"}, "name": {"name", "members.name_invalid"},
		"role": {"role", "members.role_invalid"}}) {
		return u.membersPage(w, r, p, http.StatusUnprocessableEntity)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects/"+pathEscape(project)+"/members", "flash.members_saved")
}

// memberDelete serves POST /ui/projects/{project}/members/delete
// {kind, name}, as DELETE .../members/{kind}/{name}.
func (u *UI) memberDelete(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if err := u.svc.Manager.DeleteMember(r.Context(), project, r.PostFormValue("kind"), r.PostFormValue("name")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects/"+pathEscape(project)+"/members", "flash.members_removed")
}
