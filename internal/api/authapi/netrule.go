package authapi

import (
	"net/http"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
)

// GetProjectNetworkRule serves GET /api/v1/projects/{project}/network-rule:
// {"pull":[CIDR...],"push":[CIDR...]} (empty: any address).
func (h *Handlers) GetProjectNetworkRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := h.mgr.ProjectNetworkRule(r.Context(), r.PathValue("project"))
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, rule)
}

// PutProjectNetworkRule serves PUT /api/v1/projects/{project}/network-rule
// {"pull":[...],"push":[...]}; both empty removes the rule.
func (h *Handlers) PutProjectNetworkRule(w http.ResponseWriter, r *http.Request) error {
	var in auth.NetworkRule
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	rule, err := h.mgr.SetProjectNetworkRule(r.Context(), r.PathValue("project"), in)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, rule)
}

// GetRobotNetworkRule serves GET .../robots/{robot}/network-rule, of a
// project robot (/api/v1/projects/{project}/robots/...) or a system one
// (/api/v1/robots/...).
func (h *Handlers) GetRobotNetworkRule(w http.ResponseWriter, r *http.Request) error {
	rule, err := h.mgr.RobotNetworkRule(r.Context(), r.PathValue("project"), r.PathValue("robot"))
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, rule)
}

// PutRobotNetworkRule serves PUT .../robots/{robot}/network-rule.
func (h *Handlers) PutRobotNetworkRule(w http.ResponseWriter, r *http.Request) error {
	var in auth.NetworkRule
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	rule, err := h.mgr.SetRobotNetworkRule(r.Context(), r.PathValue("project"), r.PathValue("robot"), in)
	if err != nil {
		return apiErr(err)
	}
	return manage.WriteJSON(w, http.StatusOK, rule)
}
