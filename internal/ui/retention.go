package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/policy"
)

// keeps are the kinds of retention rule, with their catalog keys; "" in
// the form is no rule (a row left blank, or cleared to remove a rule).
var keeps = []option{
	{policy.KeepLatestPushed, "policies.keep_latest_pushed"},
	{policy.KeepPushedWithin, "policies.keep_pushed_within"},
	{policy.KeepAlways, "policies.keep_always"},
	{policy.KeepUntagged, "policies.keep_untagged"},
}

// blankRules is how many empty rows the retention form offers for new rules.
const blankRules = 3

// ruleRow is one row of the retention form, as typed.
type ruleRow struct {
	Repositories, Tags, Keep, Count, Days string
}

// KeepKey is the catalog key of the row's kind of rule.
func (r ruleRow) KeepKey() string {
	for _, o := range keeps {
		if o.Value == r.Keep {
			return o.Key
		}
	}
	return r.Keep
}

func rowOf(r policy.Rule) ruleRow {
	row := ruleRow{Repositories: r.Repositories, Tags: r.Tags, Keep: r.Keep}
	if r.Count != 0 {
		row.Count = strconv.Itoa(r.Count)
	}
	if r.Days != 0 {
		row.Days = strconv.Itoa(r.Days)
	}
	return row
}

// retentionForm reads the retention form: its rows (those with a kind)
// and the policy they make. A count or days that is not a number is
// reported as the rule's (1-based) index; the service checks the rest.
func retentionForm(r *http.Request) (rows []ruleRow, p *policy.RetentionPolicy, bad int) {
	f := r.PostForm
	p = &policy.RetentionPolicy{Rules: []policy.Rule{}, Schedule: strings.TrimSpace(f.Get("schedule"))}
	at := func(name string, i int) string {
		if v := f[name]; i < len(v) {
			return strings.TrimSpace(v[i])
		}
		return ""
	}
	for i := range f["keep"] {
		row := ruleRow{Repositories: at("repositories", i), Tags: at("tags", i), Keep: at("keep", i), Count: at("count", i), Days: at("days", i)}
		if row.Keep == "" {
			continue
		}
		rows = append(rows, row)
		rule := policy.Rule{Repositories: row.Repositories, Tags: row.Tags, Keep: row.Keep}
		for _, n := range []struct {
			s   string
			dst *int
		}{{row.Count, &rule.Count}, {row.Days, &rule.Days}} {
			if n.s == "" {
				continue
			}
			v, err := strconv.Atoi(n.s)
			if err != nil && bad == 0 {
				bad = len(rows)
			}
			*n.dst = v
		}
		p.Rules = append(p.Rules, rule)
	}
	if rows == nil {
		rows = []ruleRow{}
	}
	return rows, p, bad
}

// retentionSet serves POST /ui/projects/{project}/retention: with
// op=preview a dry run of the form's rules without saving them (as
// POST .../retention/preview), else it saves them (as PUT .../retention).
func (u *UI) retentionSet(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if err := r.ParseForm(); err != nil {
		return err
	}
	p := formPage(u.page(r, "policies.title"))
	rows, pol, bad := retentionForm(r)
	p.Form["schedule"] = pol.Schedule
	invalid := func(rule int, key string) error {
		if key != "" {
			p.Errors["retention"] = key
		}
		return u.policiesForm(w, r, p, rows, func(d *policiesData) { d.RuleError, d.Schedule = rule, pol.Schedule })
	}
	if bad > 0 {
		return invalid(bad, "policies.rule_invalid")
	}
	var err error
	var preview *policy.RunResult
	if r.PostFormValue("op") == "preview" {
		preview, err = u.svc.Admin.Retention.Preview(r.Context(), project, pol)
	} else {
		err = u.svc.Policy.SetRetentionPolicy(r.Context(), project, pol)
	}
	var re *policy.RuleError
	switch {
	case errors.As(err, &re):
		return invalid(re.Rule, "policies.rule_invalid")
	case errors.Is(err, policy.ErrInvalid):
		if _, serr := policy.ParseSchedule(pol.Schedule); serr != nil {
			p.Errors["schedule"] = "policies.schedule_invalid"
			return invalid(0, "")
		}
		return invalid(0, "policies.retention_invalid")
	case err != nil:
		return err
	}
	if preview == nil {
		return u.done(w, r, policiesURL(project), "flash.policies_retention_saved")
	}
	d, err := u.policiesData(r, rows)
	if err != nil {
		return err
	}
	d.Schedule, d.Preview = pol.Schedule, preview
	p.Data = d
	return u.show(w, r, "policies", p)
}

// retentionDelete serves POST /ui/projects/{project}/retention/delete, as
// DELETE .../retention.
func (u *UI) retentionDelete(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	if err := u.svc.Policy.DeleteRetentionPolicy(r.Context(), project); err != nil && !errors.Is(err, policy.ErrNotFound) {
		return err
	}
	return u.done(w, r, policiesURL(project), "flash.policies_retention_removed")
}

// retentionRun serves POST /ui/projects/{project}/retention/run {dry_run},
// as POST .../retention/run: the run (recorded, a dry run too) shows in
// the run history the page redirects to.
func (u *UI) retentionRun(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	_, err := u.svc.Admin.Retention.Run(r.Context(), project, policy.RunOptions{DryRun: r.PostFormValue("dry_run") != "", Trigger: policy.TriggerUI})
	switch {
	case errors.Is(err, policy.ErrNotFound):
		return u.done(w, r, policiesURL(project), "flash.policies_run_no_policy")
	case errors.Is(err, policy.ErrBusy):
		return u.done(w, r, policiesURL(project), "flash.policies_run_busy")
	case err != nil:
		// A run that failed part way is recorded with its error.
		u.log.WarnContext(r.Context(), "ui: retention run failed", "project", project, "error", err)
		return u.done(w, r, policiesURL(project), "flash.policies_run_failed")
	}
	return u.done(w, r, policiesURL(project), "flash.policies_run_done")
}
