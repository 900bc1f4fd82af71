package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// policiesData is the policies page's data.
type policiesData struct {
	Project  string
	Usage    meta.Usage
	Quota    meta.Quota
	HasQuota bool
	CanAdmin bool // project admin: rules and retention
	CanQuota bool // system admin: the quota
	Rules    []meta.ImmutableRule
	// Retention holds the rows of the retention form: the stored (or
	// submitted) rules, then blank rows for new ones.
	Retention    []ruleRow
	Schedule     string
	HasRetention bool
	Keeps        []option
	Preview      *policy.RunResult // a dry run of the form's rules
	Runs         []policy.RunResult
	// RuleError is the 1-based rule the retention error is about (0: none).
	RuleError int
}

// policies serves GET /ui/projects/{project}/policies: quota and usage,
// immutability rules, retention rules and runs, as the GET routes of
// /api/v1/projects/{project}/{quota,usage,immutable-rules,retention,retention/runs}.
func (u *UI) policies(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "policies.title"))
	d, err := u.policiesData(r, nil)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "policies", p)
}

// policiesData reads the page's data; rows, when not nil, are a
// submitted retention form to show instead of the stored rules.
func (u *UI) policiesData(r *http.Request, rows []ruleRow) (*policiesData, error) {
	ctx, project := r.Context(), r.PathValue("project")
	if _, err := u.svc.Manager.Project(ctx, project); err != nil {
		return nil, err
	}
	e := u.svc.Policy
	d := &policiesData{Project: project, CanAdmin: u.can(r, manage.PermProjectAdmin), CanQuota: u.can(r, manage.PermSystemAdmin), Keeps: keeps}
	var err error
	if d.Usage, err = e.ProjectUsage(ctx, project); err != nil {
		return nil, err
	}
	d.Quota, err = e.Quota(ctx, project)
	if d.HasQuota = err == nil; err != nil && !errors.Is(err, policy.ErrNotFound) {
		return nil, err
	}
	if d.Rules, err = e.ImmutableRules(ctx, project); err != nil {
		return nil, err
	}
	pol, err := e.RetentionPolicy(ctx, project)
	if d.HasRetention = err == nil; err != nil && !errors.Is(err, policy.ErrNotFound) {
		return nil, err
	}
	if rows == nil && pol != nil {
		d.Schedule = pol.Schedule
		for _, rule := range pol.Rules {
			rows = append(rows, rowOf(rule))
		}
	}
	d.Retention = append(rows, make([]ruleRow, blankRules)...)
	d.Runs, err = e.RetentionRuns(ctx, project, 20)
	return d, err
}

// policiesForm renders the policies page with a form's errors (422).
func (u *UI) policiesForm(w http.ResponseWriter, r *http.Request, p *Page, rows []ruleRow, edit func(*policiesData)) error {
	d, err := u.policiesData(r, rows)
	if err != nil {
		return err
	}
	if edit != nil {
		edit(d)
	}
	p.Data = d
	return u.invalid(w, r, "policies", p)
}

func policiesURL(project string) string { return "/ui/projects/" + pathEscape(project) + "/policies" }

// quotaSet serves POST /ui/projects/{project}/quota
// {storage, repositories, manifests}, as PUT .../quota: an empty limit
// is none; storage takes a size ("10GiB").
func (u *UI) quotaSet(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "policies.title"))
	q := meta.Quota{Project: project}
	for _, f := range []struct {
		name string
		dst  *int64
		size bool
	}{{"storage", &q.StorageBytes, true}, {"repositories", &q.Repositories, false}, {"manifests", &q.Manifests, false}} {
		v := strings.TrimSpace(r.PostFormValue(f.name))
		p.Form["quota_"+f.name] = v
		*f.dst = meta.Unlimited
		if v == "" {
			continue
		}
		var n int64
		var err error
		if f.size {
			var b config.ByteSize
			b, err = config.ParseByteSize(v)
			n = int64(b)
		} else {
			n, err = strconv.ParseInt(v, 10, 64)
		}
		if err != nil || n < 0 {
			p.Errors["quota_"+f.name] = "policies.quota_invalid"
		}
		*f.dst = n
	}
	if len(p.Errors) > 0 {
		return u.policiesForm(w, r, p, nil, nil)
	}
	err := u.svc.Policy.SetQuota(r.Context(), q)
	if errors.Is(err, policy.ErrInvalid) {
		p.Errors["quota_storage"] = "policies.quota_invalid"
		return u.policiesForm(w, r, p, nil, nil)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_quota_saved")
}

// quotaDelete serves POST /ui/projects/{project}/quota/delete, as
// DELETE .../quota.
func (u *UI) quotaDelete(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if err := u.svc.Policy.DeleteQuota(r.Context(), project); err != nil && !errors.Is(err, policy.ErrNotFound) {
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_quota_removed")
}

// immutableAdd serves POST /ui/projects/{project}/immutable-rules
// {repositories, tags}, as POST .../immutable-rules.
func (u *UI) immutableAdd(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "policies.title"))
	rule := meta.ImmutableRule{Project: project, Repositories: r.PostFormValue("repositories"), Tags: r.PostFormValue("tags")}
	p.Form["imm_repositories"], p.Form["imm_tags"] = rule.Repositories, rule.Tags
	_, err := u.svc.Policy.AddImmutableRule(r.Context(), rule)
	if errors.Is(err, policy.ErrInvalid) {
		p.Errors["immutable"] = "policies.immutable_invalid"
		return u.policiesForm(w, r, p, nil, nil)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_immutable_added")
}

// immutableUpdate serves POST /ui/projects/{project}/immutable-rules/update
// {id, repositories, tags}, as PUT .../immutable-rules/{id}.
func (u *UI) immutableUpdate(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return manage.BadRequest("rule id is not a positive integer")
	}
	p := formPage(u.page(r, "policies.title"))
	err = u.svc.Policy.UpdateImmutableRule(r.Context(), meta.ImmutableRule{ID: id, Project: project,
		Repositories: r.PostFormValue("repositories"), Tags: r.PostFormValue("tags")})
	switch {
	case errors.Is(err, policy.ErrInvalid):
		p.Errors["immutable_"+strconv.FormatInt(id, 10)] = "policies.immutable_invalid"
		return u.policiesForm(w, r, p, nil, nil)
	case errors.Is(err, policy.ErrNotFound):
		return errNotFound
	case err != nil:
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_immutable_saved")
}

// immutableDelete serves POST /ui/projects/{project}/immutable-rules/delete
// {id}, as DELETE .../immutable-rules/{id}.
func (u *UI) immutableDelete(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return manage.BadRequest("rule id is not a positive integer")
	}
	err = u.svc.Policy.DeleteImmutableRule(r.Context(), project, id)
	if errors.Is(err, policy.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_immutable_deleted")
}
