package authapi

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
)

type projectJSON struct {
	Name      string    `json:"name"`
	Public    bool      `json:"public"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func toProject(p meta.Project) projectJSON {
	return projectJSON{Name: p.Name, Public: p.Public, CreatedBy: p.CreatedBy, CreatedAt: p.CreatedAt}
}

// ListProjects serves GET /api/v1/projects: the projects the caller may
// see (public ones, their own, all for administrators).
func (h *Handlers) ListProjects(w http.ResponseWriter, r *http.Request) error {
	ps, err := h.mgr.Projects(r.Context())
	if err != nil {
		return err
	}
	var visible func(string) bool
	if h.auth != nil {
		if visible, err = h.auth.Visible(r); err != nil {
			return err
		}
	}
	out := []projectJSON{}
	for _, p := range ps {
		if visible == nil || visible(p.Name) {
			out = append(out, toProject(p))
		}
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// CreateProject serves POST /api/v1/projects {"name","public"}. Who may
// create projects is the project_creation setting; the creator becomes
// the project's admin.
func (h *Handlers) CreateProject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name   string `json:"name"`
		Public bool   `json:"public"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	creator := ""
	if s := subject(r); s != nil {
		if !h.auth.MayCreateProject(r.Context(), s) {
			return forbidden("only administrators may create projects (setting project_creation)")
		}
		creator = s.Name
	}
	if err := h.mgr.CreateProject(r.Context(), in.Name, in.Public, creator); err != nil {
		return apiErr(err)
	}
	p, err := h.mgr.Project(r.Context(), in.Name)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusCreated, toProject(p))
}

// GetProject serves GET /api/v1/projects/{project}.
func (h *Handlers) GetProject(w http.ResponseWriter, r *http.Request) error {
	p, err := h.mgr.Project(r.Context(), r.PathValue("project"))
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, toProject(p))
}

// UpdateProject serves PATCH /api/v1/projects/{project} {"public"}.
func (h *Handlers) UpdateProject(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Public *bool `json:"public"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	name := r.PathValue("project")
	if in.Public != nil {
		if err := h.mgr.SetPublic(r.Context(), name, *in.Public); err != nil {
			return apiErr(err)
		}
	}
	return h.GetProject(w, r)
}

// DeleteProject serves DELETE /api/v1/projects/{project}: an empty
// project, with its members and robots.
func (h *Handlers) DeleteProject(w http.ResponseWriter, r *http.Request) error {
	if err := h.mgr.DeleteProject(r.Context(), r.PathValue("project")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type memberJSON struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	Role string `json:"role"`
}

// ListMembers serves GET /api/v1/projects/{project}/members.
func (h *Handlers) ListMembers(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.mgr.Members(r.Context(), r.PathValue("project"))
	if err != nil {
		return apiErr(err)
	}
	out := make([]memberJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, memberJSON{Kind: m.Kind, Name: m.Name, Role: m.Role})
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// PutMember serves PUT /api/v1/projects/{project}/members/{kind}/{name}
// {"role"}: kind is user or group.
func (h *Handlers) PutMember(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Role string `json:"role"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	m := memberJSON{Kind: r.PathValue("kind"), Name: r.PathValue("name"), Role: in.Role}
	if err := h.mgr.PutMember(r.Context(), r.PathValue("project"), m.Kind, m.Name, m.Role); err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, m)
}

// DeleteMember serves DELETE /api/v1/projects/{project}/members/{kind}/{name}.
func (h *Handlers) DeleteMember(w http.ResponseWriter, r *http.Request) error {
	if err := h.mgr.DeleteMember(r.Context(), r.PathValue("project"), r.PathValue("kind"), r.PathValue("name")); err != nil {
		return apiErr(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
