package ui

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/meta"
)

// adminRobotRow is a system robot for a template.
type adminRobotRow struct {
	meta.Robot
	Short   string // the name the delete form takes
	Expired bool
}

// adminRobotsData is the system robots page's data.
type adminRobotsData struct {
	Robots  []adminRobotRow
	Actions []option
	Checked map[string]bool
	// NewName and NewSecret are those of a robot just created, shown this once.
	NewName, NewSecret string
}

// adminRobots serves GET /ui/admin/robots: the system robots (robot$name,
// with permissions in several projects or "*"), as GET /api/v1/robots.
func (u *UI) adminRobots(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "admin.robots_title"))
	d, err := u.adminRobotsData(r, map[string]bool{auth.ActionPull: true})
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "admin_robots", p)
}

func (u *UI) adminRobotsData(r *http.Request, checked map[string]bool) (*adminRobotsData, error) {
	rs, err := u.svc.Manager.Robots(r.Context(), "")
	if err != nil {
		return nil, err
	}
	d := &adminRobotsData{Actions: robotActions, Checked: checked}
	prefix, now := auth.RobotName("", ""), u.now()
	for _, rb := range rs {
		d.Robots = append(d.Robots, adminRobotRow{Robot: rb, Short: strings.TrimPrefix(rb.Name, prefix), Expired: expired(rb.ExpiresAt, now)})
	}
	return d, nil
}

// adminRobotCreate serves POST /ui/admin/robots
// {name, description, projects, actions, expires_days}, as
// POST /api/v1/robots: the same actions in each project named (comma
// separated, "*" for every project); the page shows the secret once.
func (u *UI) adminRobotCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	p := formPage(u.page(r, "admin.robots_title"))
	name, desc, days := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("description")), r.PostFormValue("expires_days")
	projects := r.PostFormValue("projects")
	p.Form["name"], p.Form["description"], p.Form["expires_days"], p.Form["projects"] = name, desc, days, projects
	actions := r.PostForm["actions"]
	checked := map[string]bool{}
	for _, a := range actions {
		checked[a] = true
	}
	var perms []meta.RobotPermission
	for _, pr := range strings.Split(projects, ",") {
		if pr = strings.TrimSpace(pr); pr != "" {
			perms = append(perms, meta.RobotPermission{Project: pr, Actions: actions})
		}
	}
	var full, secret string
	exp, ok := expiryDays(days, u.now())
	if !ok {
		p.Errors["expires_days"] = "robots.expiry_invalid"
	} else {
		var err error
		full, secret, err = u.svc.Manager.CreateRobot(r.Context(), "", name, desc, perms, exp)
		switch {
		case fieldError(p, err, map[string][2]string{"name": {"name", "robots.name_invalid"}, "project": {"projects", "admin.robot_projects_invalid"},
			"actions": {"actions", "admin.robot_permissions_invalid"}, "expires": {"expires_days", "robots.expiry_invalid"}}):
		case isExists(err):
			p.Errors["name"] = "robots.name_taken"
		case err != nil:
			return err
		}
	}
	d, err := u.adminRobotsData(r, checked)
	if err != nil {
		return err
	}
	p.Data = d
	if len(p.Errors) > 0 {
		return u.invalid(w, r, "admin_robots", p)
	}
	d.NewName, d.NewSecret, d.Checked = full, secret, map[string]bool{auth.ActionPull: true}
	p.Form = map[string]string{}
	return u.show(w, r, "admin_robots", p)
}

// adminRobotDelete serves POST /ui/admin/robots/delete {robot}, as
// DELETE /api/v1/robots/{robot}.
func (u *UI) adminRobotDelete(w http.ResponseWriter, r *http.Request) error {
	if err := u.svc.Manager.DeleteRobot(r.Context(), "", r.PostFormValue("robot")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/robots", "flash.robots_deleted")
}
