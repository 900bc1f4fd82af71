package authapi

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
)

type robotJSON struct {
	Name        string                 `json:"name"`
	Project     string                 `json:"project,omitempty"`
	Description string                 `json:"description"`
	Permissions []meta.RobotPermission `json:"permissions"`
	ExpiresAt   *time.Time             `json:"expires_at,omitempty"`
	CreatedAt   time.Time              `json:"created_at"`
	Secret      string                 `json:"secret,omitempty"`
}

func toRobot(r meta.Robot) robotJSON {
	perms := r.Permissions
	if perms == nil {
		perms = []meta.RobotPermission{}
	}
	return robotJSON{Name: r.Name, Project: r.Project, Description: r.Description, Permissions: perms,
		ExpiresAt: optTime(r.ExpiresAt), CreatedAt: r.CreatedAt}
}

type robotRequest struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Actions     []string               `json:"actions"`     // project robots
	Permissions []meta.RobotPermission `json:"permissions"` // system robots
	ExpiresAt   *time.Time             `json:"expires_at"`
	ExpiresIn   string                 `json:"expires_in"`
}

func (h *Handlers) listRobots(w http.ResponseWriter, r *http.Request, project string) error {
	rs, err := h.mgr.Robots(r.Context(), project)
	if err != nil {
		return err
	}
	out := make([]robotJSON, 0, len(rs))
	for _, rb := range rs {
		out = append(out, toRobot(rb))
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

func (h *Handlers) createRobot(w http.ResponseWriter, r *http.Request, project string) error {
	var in robotRequest
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	exp, err := expiry(in.ExpiresAt, in.ExpiresIn)
	if err != nil {
		return err
	}
	perms := in.Permissions
	if project != "" {
		if len(perms) > 0 {
			return manage.BadRequest("a project robot takes actions, not permissions")
		}
		perms = []meta.RobotPermission{{Project: project, Actions: in.Actions}}
	} else if len(in.Actions) > 0 {
		return manage.BadRequest("a system robot takes permissions: [{project, actions}]")
	}
	name, secret, err := h.mgr.CreateRobot(r.Context(), project, in.Name, in.Description, perms, exp)
	if err != nil {
		return apiErr(err)
	}
	out := robotJSON{Name: name, Project: project, Description: in.Description, Permissions: perms,
		ExpiresAt: optTime(exp), CreatedAt: time.Now().UTC(), Secret: secret}
	return manage.WriteJSON(w, http.StatusCreated, out)
}

// ListProjectRobots serves GET /api/v1/projects/{project}/robots.
func (h *Handlers) ListProjectRobots(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.mgr.Project(r.Context(), r.PathValue("project")); err != nil {
		return apiErr(err)
	}
	return h.listRobots(w, r, r.PathValue("project"))
}

// CreateProjectRobot serves POST /api/v1/projects/{project}/robots
// {"name","description","actions","expires_at"|"expires_in"}: the robot
// robot$<project>+<name>, with its secret shown this once.
func (h *Handlers) CreateProjectRobot(w http.ResponseWriter, r *http.Request) error {
	return h.createRobot(w, r, r.PathValue("project"))
}

// DeleteProjectRobot serves DELETE /api/v1/projects/{project}/robots/{robot}
// (the short name).
func (h *Handlers) DeleteProjectRobot(w http.ResponseWriter, r *http.Request) error {
	if err := h.mgr.DeleteRobot(r.Context(), r.PathValue("project"), r.PathValue("robot")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ListRobots serves GET /api/v1/robots: the system robots.
func (h *Handlers) ListRobots(w http.ResponseWriter, r *http.Request) error {
	return h.listRobots(w, r, "")
}

// CreateRobot serves POST /api/v1/robots
// {"name","description","permissions":[{"project","actions"}],...}: the
// system robot robot$<name>; project "*" means every project.
func (h *Handlers) CreateRobot(w http.ResponseWriter, r *http.Request) error {
	return h.createRobot(w, r, "")
}

// DeleteRobot serves DELETE /api/v1/robots/{robot}.
func (h *Handlers) DeleteRobot(w http.ResponseWriter, r *http.Request) error {
	if err := h.mgr.DeleteRobot(r.Context(), "", r.PathValue("robot")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
