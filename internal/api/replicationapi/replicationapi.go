// Package replicationapi is the management API of replication
// (docs/replication.md, docs/api.md): registries, rules, runs and their
// tasks. Administrators only. Each handler parses, calls the replication
// service once, and writes JSON; the route table is in internal/app.
package replicationapi

import (
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/replication"
)

// Handlers serve the replication routes.
type Handlers struct{ s *replication.Service }

// New returns the handlers over the replication service.
func New(s *replication.Service) *Handlers { return &Handlers{s: s} }

// ListRegistries serves GET /api/v1/replication/registries.
func (h *Handlers) ListRegistries(w http.ResponseWriter, r *http.Request) error {
	regs, err := h.s.Registries(r.Context())
	if err != nil {
		return err
	}
	for i := range regs {
		regs[i] = regs[i].Redacted()
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"registries": regs})
}

// GetRegistry serves GET /api/v1/replication/registries/{name}.
func (h *Handlers) GetRegistry(w http.ResponseWriter, r *http.Request) error {
	reg, err := h.s.Registry(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, reg.Redacted())
}

// CreateRegistry serves POST /api/v1/replication/registries.
func (h *Handlers) CreateRegistry(w http.ResponseWriter, r *http.Request) error {
	return h.putRegistry(w, r, "", true)
}

// UpdateRegistry serves PUT /api/v1/replication/registries/{name}.
func (h *Handlers) UpdateRegistry(w http.ResponseWriter, r *http.Request) error {
	return h.putRegistry(w, r, r.PathValue("name"), false)
}

func (h *Handlers) putRegistry(w http.ResponseWriter, r *http.Request, name string, create bool) error {
	var in replication.Registry
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	if !create {
		if in.Name != "" && in.Name != name {
			return manage.BadRequest("the body names another registry than the path")
		}
		in.Name = name
	}
	out, err := h.s.PutRegistry(r.Context(), in, create)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	return manage.WriteJSON(w, status, out.Redacted())
}

// DeleteRegistry serves DELETE /api/v1/replication/registries/{name}.
func (h *Handlers) DeleteRegistry(w http.ResponseWriter, r *http.Request) error {
	if err := h.s.DeleteRegistry(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// CheckRegistry serves POST /api/v1/replication/registries/{name}/health.
func (h *Handlers) CheckRegistry(w http.ResponseWriter, r *http.Request) error {
	health, err := h.s.CheckRegistry(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, health)
}

// ListRules serves GET /api/v1/replication/rules.
func (h *Handlers) ListRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := h.s.Rules(r.Context())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"rules": rules})
}

// GetRule serves GET /api/v1/replication/rules/{name}.
func (h *Handlers) GetRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := h.s.Rule(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, rule)
}

// CreateRule serves POST /api/v1/replication/rules.
func (h *Handlers) CreateRule(w http.ResponseWriter, r *http.Request) error {
	return h.putRule(w, r, "", true)
}

// UpdateRule serves PUT /api/v1/replication/rules/{name}.
func (h *Handlers) UpdateRule(w http.ResponseWriter, r *http.Request) error {
	return h.putRule(w, r, r.PathValue("name"), false)
}

func (h *Handlers) putRule(w http.ResponseWriter, r *http.Request, name string, create bool) error {
	var in replication.Rule
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	if !create {
		if in.Name != "" && in.Name != name {
			return manage.BadRequest("the body names another rule than the path")
		}
		in.Name = name
	}
	out, err := h.s.PutRule(r.Context(), in, create)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	return manage.WriteJSON(w, status, out)
}

// DeleteRule serves DELETE /api/v1/replication/rules/{name}.
func (h *Handlers) DeleteRule(w http.ResponseWriter, r *http.Request) error {
	if err := h.s.DeleteRule(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// StartRun serves POST /api/v1/replication/rules/{name}/runs: a full run now.
func (h *Handlers) StartRun(w http.ResponseWriter, r *http.Request) error {
	run, err := h.s.StartRun(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusAccepted, run)
}

// ListRuns serves GET /api/v1/replication/runs?rule=&limit=.
func (h *Handlers) ListRuns(w http.ResponseWriter, r *http.Request) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	runs, err := h.s.Runs(r.Context(), r.URL.Query().Get("rule"), int(limit))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

// GetRun serves GET /api/v1/replication/runs/{id}.
func (h *Handlers) GetRun(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	run, err := h.s.Run(r.Context(), id)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, run)
}

// ListTasks serves GET /api/v1/replication/runs/{id}/tasks?status=&after=&limit=.
func (h *Handlers) ListTasks(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	after, err := intParam(r, "after")
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	tasks, err := h.s.Tasks(r.Context(), id, r.URL.Query().Get("status"), after, int(limit))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"tasks": tasks})
}

// StopRun serves POST /api/v1/replication/runs/{id}/stop.
func (h *Handlers) StopRun(w http.ResponseWriter, r *http.Request) error {
	id, err := runID(r)
	if err != nil {
		return err
	}
	run, err := h.s.StopRun(r.Context(), id)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, run)
}

func runID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, manage.NotFound("no run " + r.PathValue("id"))
	}
	return id, nil
}

func intParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, manage.BadRequest(name + ": want a non-negative integer")
	}
	return n, nil
}
