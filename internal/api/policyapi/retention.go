package policyapi

import (
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/policy"
)

// RepositoryUsage is one repository's line of the usage report.
type RepositoryUsage struct {
	Name  string `json:"name"`
	Usage Usage  `json:"usage"`
}

// UsageReport is the answer of GET .../usage.
type UsageReport struct {
	Project      string            `json:"project"`
	Usage        Usage             `json:"usage"`
	Quota        *Quota            `json:"quota"` // null: no quota; its usage field repeats Usage
	Repositories []RepositoryUsage `json:"repositories"`
	// Next, when not empty, is the last= value of the next page.
	Next string `json:"next,omitempty"`
}

// maxPage bounds the repositories of one usage page.
const maxPage = 1000

// GetUsage serves GET /api/v1/projects/{project}/usage?n=&last=: the
// project's usage and quota, and a page of its repositories' usage (n
// repositories after last, 100 by default, at most 1000).
func (h *Handlers) GetUsage(w http.ResponseWriter, r *http.Request) error {
	ctx, project, q := r.Context(), r.PathValue("project"), r.URL.Query()
	n := 100
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return manage.BadRequest("n must be a number from 0 to 1000")
		}
		n = min(v, maxPage)
	}
	u, err := h.e.ProjectUsage(ctx, project)
	if err != nil {
		return err
	}
	rep := UsageReport{Project: project, Usage: usageOut(u), Repositories: []RepositoryUsage{}}
	if quota, err := h.e.Quota(ctx, project); err == nil {
		rep.Quota = &Quota{Project: project, StorageBytes: quota.StorageBytes, Repositories: quota.Repositories,
			Manifests: quota.Manifests, UpdatedAt: &quota.UpdatedAt, Usage: rep.Usage}
	}
	repos, more, err := h.e.RepositoryUsages(ctx, project, q.Get("last"), n)
	if err != nil {
		return err
	}
	for _, ru := range repos {
		rep.Repositories = append(rep.Repositories, RepositoryUsage{Name: ru.Name, Usage: usageOut(ru.Usage)})
	}
	if more && len(repos) > 0 {
		rep.Next = repos[len(repos)-1].Name
	}
	return manage.WriteJSON(w, http.StatusOK, rep)
}

// GetRetention serves GET /api/v1/projects/{project}/retention.
func (h *Handlers) GetRetention(w http.ResponseWriter, r *http.Request) error {
	p, err := h.e.RetentionPolicy(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, p)
}

// SetRetention serves PUT /api/v1/projects/{project}/retention.
func (h *Handlers) SetRetention(w http.ResponseWriter, r *http.Request) error {
	var p policy.RetentionPolicy
	if err := manage.ReadJSON(r, &p); err != nil {
		return err
	}
	if p.Rules == nil {
		p.Rules = []policy.Rule{}
	}
	if err := h.e.SetRetentionPolicy(r.Context(), r.PathValue("project"), &p); err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, p)
}

// DeleteRetention serves DELETE /api/v1/projects/{project}/retention.
func (h *Handlers) DeleteRetention(w http.ResponseWriter, r *http.Request) error {
	if err := h.e.DeleteRetentionPolicy(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type runIn struct {
	DryRun bool `json:"dry_run"`
}

// RunRetention serves POST /api/v1/projects/{project}/retention/run: runs
// the policy now (body {"dry_run": true} or ?dry_run=true to only report)
// and answers with the result.
func (h *Handlers) RunRetention(w http.ResponseWriter, r *http.Request) error {
	var in runIn
	if r.ContentLength != 0 {
		if err := manage.ReadJSON(r, &in); err != nil {
			return err
		}
	}
	if s := r.URL.Query().Get("dry_run"); s != "" {
		v, err := strconv.ParseBool(s)
		if err != nil {
			return manage.BadRequest("dry_run must be true or false")
		}
		in.DryRun = in.DryRun || v
	}
	res, err := h.rt.Run(r.Context(), r.PathValue("project"), policy.RunOptions{DryRun: in.DryRun, Trigger: policy.TriggerAPI})
	if err != nil {
		return err // a run that failed part way is in the recorded runs
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// PreviewRetention serves POST /api/v1/projects/{project}/retention/preview
// with a policy document: a dry run of that policy (saved or not), not
// recorded, answered as a run result.
func (h *Handlers) PreviewRetention(w http.ResponseWriter, r *http.Request) error {
	var p policy.RetentionPolicy
	if err := manage.ReadJSON(r, &p); err != nil {
		return err
	}
	res, err := h.rt.Preview(r.Context(), r.PathValue("project"), &p)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, res)
}

// ListRetentionRuns serves GET /api/v1/projects/{project}/retention/runs?n=:
// the recorded runs, newest first (20 by default, at most 50 are kept).
func (h *Handlers) ListRetentionRuns(w http.ResponseWriter, r *http.Request) error {
	n := 20
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return manage.BadRequest("n must be a positive number")
		}
		n = min(v, 50)
	}
	runs, err := h.e.RetentionRuns(r.Context(), r.PathValue("project"), n)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"runs": runs})
}
