// Package policyapi is the management API of the project policies
// (docs/api.md, "Project policies"): tag immutability rules, quotas and
// usage, retention rules and runs. Each handler parses, calls the policy
// engine once, and writes JSON; the route table is in internal/app.
package policyapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// Handlers serve the policy routes.
type Handlers struct {
	e  *policy.Engine
	rt *policy.Retention
}

// New returns the handlers over the policy engine and retention runner.
func New(e *policy.Engine, rt *policy.Retention) *Handlers { return &Handlers{e: e, rt: rt} }

// ImmutableRule is the JSON form of an immutability rule.
type ImmutableRule struct {
	ID           int64     `json:"id"`
	Repositories string    `json:"repositories"`
	Tags         string    `json:"tags"`
	CreatedAt    time.Time `json:"created_at"`
}

type immutableRuleIn struct {
	Repositories string `json:"repositories"`
	Tags         string `json:"tags"`
}

func ruleOut(r meta.ImmutableRule) ImmutableRule {
	return ImmutableRule{ID: r.ID, Repositories: r.Repositories, Tags: r.Tags, CreatedAt: r.CreatedAt}
}

// ListImmutableRules serves GET /api/v1/projects/{project}/immutable-rules.
func (h *Handlers) ListImmutableRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := h.e.ImmutableRules(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]ImmutableRule, 0, len(rules))
	for _, rule := range rules {
		out = append(out, ruleOut(rule))
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"rules": out})
}

// AddImmutableRule serves POST /api/v1/projects/{project}/immutable-rules.
func (h *Handlers) AddImmutableRule(w http.ResponseWriter, r *http.Request) error {
	var in immutableRuleIn
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	rule, err := h.e.AddImmutableRule(r.Context(), meta.ImmutableRule{Project: r.PathValue("project"), Repositories: in.Repositories, Tags: in.Tags})
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusCreated, ruleOut(rule))
}

// UpdateImmutableRule serves PUT /api/v1/projects/{project}/immutable-rules/{id}.
func (h *Handlers) UpdateImmutableRule(w http.ResponseWriter, r *http.Request) error {
	id, err := ruleID(r)
	if err != nil {
		return err
	}
	var in immutableRuleIn
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	rule := meta.ImmutableRule{ID: id, Project: r.PathValue("project"), Repositories: in.Repositories, Tags: in.Tags}
	if err := h.e.UpdateImmutableRule(r.Context(), rule); err != nil {
		return err
	}
	rules, err := h.e.ImmutableRules(r.Context(), rule.Project)
	if err != nil {
		return err
	}
	for _, got := range rules {
		if got.ID == id {
			return manage.WriteJSON(w, http.StatusOK, ruleOut(got))
		}
	}
	return fmt.Errorf("%w: immutability rule %d", policy.ErrNotFound, id) // deleted meanwhile
}

// DeleteImmutableRule serves DELETE /api/v1/projects/{project}/immutable-rules/{id}.
func (h *Handlers) DeleteImmutableRule(w http.ResponseWriter, r *http.Request) error {
	id, err := ruleID(r)
	if err != nil {
		return err
	}
	if err := h.e.DeleteImmutableRule(r.Context(), r.PathValue("project"), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func ruleID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, manage.BadRequest(fmt.Sprintf("rule id %q is not a positive integer", r.PathValue("id")))
	}
	return id, nil
}

// Usage is the JSON form of meta.Usage.
type Usage struct {
	StorageBytes int64 `json:"storage_bytes"`
	Blobs        int64 `json:"blobs"`
	Manifests    int64 `json:"manifests"`
	Repositories int64 `json:"repositories"`
	Tags         int64 `json:"tags"`
}

func usageOut(u meta.Usage) Usage {
	return Usage{StorageBytes: u.StorageBytes, Blobs: u.Blobs, Manifests: u.Manifests, Repositories: u.Repositories, Tags: u.Tags}
}

// Quota is the JSON form of a project's quota with its usage. Limits are
// -1 when unlimited.
type Quota struct {
	Project      string     `json:"project"`
	StorageBytes int64      `json:"storage_bytes"`
	Repositories int64      `json:"repositories"`
	Manifests    int64      `json:"manifests"`
	UpdatedAt    *time.Time `json:"updated_at,omitempty"`
	Usage        Usage      `json:"usage"`
}

// limit is a quota limit in a request: a number, or for bytes a string
// with a unit ("10GiB"); absent is no limit.
type limit struct {
	set bool
	v   int64
}

func (l *limit) UnmarshalJSON(b []byte) error {
	l.set = true
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		l.v = n
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a limit is a number (-1: none) or a size such as \"10GiB\"")
	}
	size, err := config.ParseByteSize(s)
	if err != nil {
		return err
	}
	l.v = int64(size)
	return nil
}

func (l limit) value() int64 {
	if !l.set {
		return meta.Unlimited
	}
	return l.v
}

type quotaIn struct {
	StorageBytes limit `json:"storage_bytes"`
	Repositories limit `json:"repositories"`
	Manifests    limit `json:"manifests"`
}

// GetQuota serves GET /api/v1/projects/{project}/quota: the quota and the
// project's usage. A project without a quota answers 404.
func (h *Handlers) GetQuota(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	q, err := h.e.Quota(r.Context(), project)
	if err != nil {
		return err
	}
	u, err := h.e.ProjectUsage(r.Context(), project)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, Quota{Project: project, StorageBytes: q.StorageBytes, Repositories: q.Repositories,
		Manifests: q.Manifests, UpdatedAt: &q.UpdatedAt, Usage: usageOut(u)})
}

// SetQuota serves PUT /api/v1/projects/{project}/quota. A limit left out
// is no limit.
func (h *Handlers) SetQuota(w http.ResponseWriter, r *http.Request) error {
	var in quotaIn
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	q := meta.Quota{Project: r.PathValue("project"), StorageBytes: in.StorageBytes.value(),
		Repositories: in.Repositories.value(), Manifests: in.Manifests.value()}
	if err := h.e.SetQuota(r.Context(), q); err != nil {
		return err
	}
	return h.GetQuota(w, r)
}

// DeleteQuota serves DELETE /api/v1/projects/{project}/quota.
func (h *Handlers) DeleteQuota(w http.ResponseWriter, r *http.Request) error {
	if err := h.e.DeleteQuota(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
