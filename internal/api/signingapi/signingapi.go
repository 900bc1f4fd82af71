// Package signingapi is the management API of signature policies
// (docs/signing.md, docs/api.md "Signature policies"): rules, trust
// material, and the verification status of a manifest. Each handler
// parses, calls the trust service once, and writes JSON; the route table
// is in internal/app.
package signingapi

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/trust"
)

// Handlers serve the signing routes.
type Handlers struct{ s *trust.Service }

// New returns the handlers over the trust service.
func New(s *trust.Service) *Handlers { return &Handlers{s: s} }

// ListRules serves GET /api/v1/projects/{project}/signing/rules.
func (h *Handlers) ListRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := h.s.Rules(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"rules": rules})
}

// AddRule serves POST /api/v1/projects/{project}/signing/rules.
func (h *Handlers) AddRule(w http.ResponseWriter, r *http.Request) error {
	var in trust.Rule
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	out, err := h.s.AddRule(r.Context(), r.PathValue("project"), in)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusCreated, out)
}

// UpdateRule serves PUT /api/v1/projects/{project}/signing/rules/{id}.
func (h *Handlers) UpdateRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var in trust.Rule
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	in.ID = id
	out, err := h.s.UpdateRule(r.Context(), r.PathValue("project"), in)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, out)
}

// DeleteRule serves DELETE /api/v1/projects/{project}/signing/rules/{id}.
func (h *Handlers) DeleteRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteRule(r.Context(), r.PathValue("project"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Material is the JSON form of trust material.
type Material struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Data      string    `json:"data"`
	CreatedAt time.Time `json:"created_at"`
}

func materialOut(m meta.TrustMaterial) Material {
	return Material{ID: m.ID, Name: m.Name, Kind: m.Kind, Data: m.Data, CreatedAt: m.CreatedAt}
}

// ListMaterials serves GET /api/v1/projects/{project}/signing/keys.
func (h *Handlers) ListMaterials(w http.ResponseWriter, r *http.Request) error {
	ms, err := h.s.Materials(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Material, 0, len(ms))
	for _, m := range ms {
		out = append(out, materialOut(m))
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"keys": out})
}

// AddMaterial serves POST /api/v1/projects/{project}/signing/keys: a
// cosign public key, a Sigstore trusted root or notation certificates.
func (h *Handlers) AddMaterial(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		Data string `json:"data"`
	}
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	m, err := h.s.AddMaterial(r.Context(), meta.TrustMaterial{Project: r.PathValue("project"), Name: in.Name, Kind: in.Kind, Data: in.Data})
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusCreated, materialOut(m))
}

// DeleteMaterial serves DELETE /api/v1/projects/{project}/signing/keys/{id}.
func (h *Handlers) DeleteMaterial(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.s.DeleteMaterial(r.Context(), r.PathValue("project"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Status serves GET /api/v1/projects/{project}/signing/status?repository=R&digest=D:
// which signatures were found, by whom, valid or not and why, per rule.
func (h *Handlers) Status(w http.ResponseWriter, r *http.Request) error {
	repo, d, err := target(r)
	if err != nil {
		return err
	}
	st, err := h.s.Status(r.Context(), repo, d)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

// Verify serves POST /api/v1/projects/{project}/signing/verify?repository=R&digest=D:
// verify again now (after a key was rotated outside Berth, for example).
func (h *Handlers) Verify(w http.ResponseWriter, r *http.Request) error {
	repo, d, err := target(r)
	if err != nil {
		return err
	}
	st, err := h.s.Reverify(r.Context(), repo, d)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, st)
}

// target reads the repository (full name, in the project) and digest.
func target(r *http.Request) (string, digest.Digest, error) {
	project, repo := r.PathValue("project"), r.URL.Query().Get("repository")
	if repo == "" || policy.ProjectOf(repo) != project || strings.Contains(repo, "..") {
		return "", "", manage.BadRequest(fmt.Sprintf("repository %q is not a repository of project %s", repo, project))
	}
	d, err := digest.Parse(r.URL.Query().Get("digest"))
	if err != nil {
		return "", "", manage.BadRequest("digest: " + err.Error())
	}
	return repo, d, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, manage.BadRequest(fmt.Sprintf("id %q is not a positive integer", r.PathValue("id")))
	}
	return id, nil
}
