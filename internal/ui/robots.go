package ui

import (
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// robotActions are the actions a project robot may be given.
var robotActions = []option{
	{auth.ActionPull, "robots.action_pull"},
	{auth.ActionPush, "robots.action_push"},
	{auth.ActionDelete, "robots.action_delete"},
}

// robotRow is a robot for a template.
type robotRow struct {
	meta.Robot
	Short   string // the name the project's robot routes take
	Actions []string
	Expired bool
}

// robotsData is the robots page's data.
type robotsData struct {
	Project string
	Robots  []robotRow
	Actions []option
	Checked map[string]bool // actions ticked in the form
	// CanAdmin is always true here (the page is for project admins); the
	// project tabs read it.
	CanAdmin bool
	// NewName and NewSecret are those of a robot just created, shown this once.
	NewName, NewSecret string
}

// robots serves GET /ui/projects/{project}/robots, as
// GET /api/v1/projects/{project}/robots.
func (u *UI) robots(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "robots.title"))
	d, err := u.robotsData(r, map[string]bool{auth.ActionPull: true})
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "robots", p)
}

func (u *UI) robotsData(r *http.Request, checked map[string]bool) (*robotsData, error) {
	ctx, project := r.Context(), r.PathValue("project")
	if _, err := u.svc.Manager.Project(ctx, project); err != nil {
		return nil, err
	}
	rs, err := u.svc.Manager.Robots(ctx, project)
	if err != nil {
		return nil, err
	}
	d := &robotsData{Project: project, Actions: robotActions, Checked: checked, CanAdmin: true}
	prefix, now := auth.RobotName(project, ""), u.now()
	for _, rb := range rs {
		row := robotRow{Robot: rb, Short: strings.TrimPrefix(rb.Name, prefix),
			Expired: expired(rb.ExpiresAt, now)}
		for _, perm := range rb.Permissions {
			row.Actions = append(row.Actions, perm.Actions...)
		}
		d.Robots = append(d.Robots, row)
	}
	return d, nil
}

// robotCreate serves POST /ui/projects/{project}/robots
// {name, description, actions, expires_days}, as POST .../robots; the
// page shows the secret this once.
func (u *UI) robotCreate(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "robots.title"))
	if err := r.ParseForm(); err != nil {
		return err
	}
	name, desc, days := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("description")), r.PostFormValue("expires_days")
	p.Form["name"], p.Form["description"], p.Form["expires_days"] = name, desc, days
	actions := r.PostForm["actions"]
	checked := map[string]bool{}
	for _, a := range actions {
		checked[a] = true
	}
	exp, ok := expiryDays(days, u.now())
	var full, secret string
	var err error
	if !ok {
		p.Errors["expires_days"] = "robots.expiry_invalid"
	} else {
		full, secret, err = u.svc.Manager.CreateRobot(r.Context(), project, name, desc,
			[]meta.RobotPermission{{Project: project, Actions: actions}}, exp)
		if !fieldError(p, err, map[string][2]string{"name": {"name", "robots.name_invalid"}, "actions": {"actions", "robots.actions_invalid"},
			"expires": {"expires_days", "robots.expiry_invalid"}}) && err != nil {
			if isExists(err) {
				p.Errors["name"] = "robots.name_taken"
			} else {
				return err
			}
		}
	}
	d, derr := u.robotsData(r, checked)
	if derr != nil {
		return derr
	}
	p.Data = d
	if len(p.Errors) > 0 {
		return u.invalid(w, r, "robots", p)
	}
	d.NewName, d.NewSecret = full, secret
	d.Checked = map[string]bool{auth.ActionPull: true}
	p.Form = map[string]string{}
	return u.show(w, r, "robots", p)
}

// robotDelete serves POST /ui/projects/{project}/robots/delete {robot}
// (the short name), as DELETE .../robots/{robot}.
func (u *UI) robotDelete(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if err := u.svc.Manager.DeleteRobot(r.Context(), project, r.PostFormValue("robot")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/projects/"+pathEscape(project)+"/robots", "flash.robots_deleted")
}

// expired reports whether t (zero: never) is past.
func expired(t, now time.Time) bool { return !t.IsZero() && !t.After(now) }
