package ui

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/replication"
)

// replicationData is the replication page's data.
type replicationData struct {
	Registries []replication.Registry
	Rules      []replication.Rule
	Runs       []replication.Run
	Types      []string
	// Detail is a refused definition's reason, as the service words it;
	// Checked and Health the result of a health check.
	Detail  string
	Checked string
	Health  *replication.Health
}

// replicationRegistryTypes are the types the registry form offers.
var replicationRegistryTypes = []string{replication.TypeBerth, replication.TypeOCI, replication.TypeDistribution,
	replication.TypeHarbor, replication.TypeDockerHub}

// adminReplication serves GET /ui/admin/replication: registries, rules and
// recent runs, as GET /api/v1/replication/{registries,rules,runs}.
func (u *UI) adminReplication(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "replication.title"))
	p.Form["enabled"], p.Form["direction"], p.Form["type"] = "on", replication.Push, replication.TypeOCI
	d, err := u.replicationData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "admin_replication", p)
}

func (u *UI) replicationData(r *http.Request) (*replicationData, error) {
	s := u.svc.Admin.Replication
	d := &replicationData{Types: replicationRegistryTypes}
	var err error
	if d.Registries, err = s.Registries(r.Context()); err != nil {
		return nil, err
	}
	for i := range d.Registries {
		d.Registries[i] = d.Registries[i].Redacted()
	}
	if d.Rules, err = s.Rules(r.Context()); err != nil {
		return nil, err
	}
	if d.Runs, err = s.Runs(r.Context(), "", 20); err != nil {
		return nil, err
	}
	return d, nil
}

// replicationRefused shows the page again with a definition the service
// refused (422), the form as it was sent.
func (u *UI) replicationRefused(w http.ResponseWriter, r *http.Request, p *Page, field string, err error) error {
	d, derr := u.replicationData(r)
	if derr != nil {
		return derr
	}
	switch {
	case errors.Is(err, replication.ErrConflict):
		p.Errors[field] = "replication.name_taken"
	default:
		p.Errors[field] = "replication.invalid"
		d.Detail = err.Error()
	}
	p.Data = d
	return u.invalid(w, r, "admin_replication", p)
}

// formFields copies the named form values into the page (to show them
// again after a refusal).
func formFields(p *Page, r *http.Request, names ...string) {
	for _, n := range names {
		p.Form[n] = strings.TrimSpace(r.PostFormValue(n))
	}
}

// adminReplicationRegistryCreate serves POST /ui/admin/replication/registries
// {name, type, url, username, password, insecure}, as
// POST /api/v1/replication/registries.
func (u *UI) adminReplicationRegistryCreate(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "replication.title"))
	formFields(p, r, "reg_name", "type", "url", "username", "insecure")
	p.Form["enabled"], p.Form["direction"] = "on", replication.Push
	reg := replication.Registry{Name: p.Form["reg_name"], Type: p.Form["type"], URL: p.Form["url"], Username: p.Form["username"],
		Password: r.PostFormValue("password"), Insecure: p.Form["insecure"] != ""}
	if _, err := u.svc.Admin.Replication.PutRegistry(r.Context(), reg, true); err != nil {
		if errors.Is(err, replication.ErrInvalid) || errors.Is(err, replication.ErrConflict) {
			return u.replicationRefused(w, r, p, "reg_name", err)
		}
		return err
	}
	return u.done(w, r, "/ui/admin/replication", "flash.replication_registry_added")
}

// adminReplicationRegistryDelete serves POST
// /ui/admin/replication/registries/delete {registry}, as
// DELETE /api/v1/replication/registries/{name}.
func (u *UI) adminReplicationRegistryDelete(w http.ResponseWriter, r *http.Request) error {
	err := u.svc.Admin.Replication.DeleteRegistry(r.Context(), r.PostFormValue("registry"))
	if errors.Is(err, replication.ErrConflict) {
		p := formPage(u.page(r, "replication.title"))
		p.Form["enabled"], p.Form["direction"], p.Form["type"] = "on", replication.Push, replication.TypeOCI
		d, derr := u.replicationData(r)
		if derr != nil {
			return derr
		}
		p.Errors["registry_delete"], d.Detail = "replication.registry_in_use", err.Error()
		p.Data = d
		return u.invalid(w, r, "admin_replication", p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/replication", "flash.replication_registry_deleted")
}

// adminReplicationRegistryHealth serves POST
// /ui/admin/replication/registries/health {registry}, as
// POST /api/v1/replication/registries/{name}/health: the page with the
// result beside the registry.
func (u *UI) adminReplicationRegistryHealth(w http.ResponseWriter, r *http.Request) error {
	name := r.PostFormValue("registry")
	h, err := u.svc.Admin.Replication.CheckRegistry(r.Context(), name)
	if err != nil {
		return err
	}
	p := formPage(u.page(r, "replication.title"))
	p.Form["enabled"], p.Form["direction"], p.Form["type"] = "on", replication.Push, replication.TypeOCI
	d, err := u.replicationData(r)
	if err != nil {
		return err
	}
	d.Checked, d.Health = name, &h
	p.Data = d
	return u.show(w, r, "admin_replication", p)
}

// adminReplicationRuleCreate serves POST /ui/admin/replication/rules, as
// POST /api/v1/replication/rules (the common fields; the API has them all).
func (u *UI) adminReplicationRuleCreate(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "replication.title"))
	formFields(p, r, "rule_name", "direction", "registry", "repositories", "tags", "semver", "latest",
		"namespace", "strip_prefix", "flatten", "schedule", "events", "deletions", "enabled")
	p.Form["type"] = replication.TypeOCI
	rule := replication.Rule{Name: p.Form["rule_name"], Direction: p.Form["direction"], Registry: p.Form["registry"],
		Repositories: p.Form["repositories"], Tags: p.Form["tags"], Semver: p.Form["semver"], Schedule: p.Form["schedule"],
		Events: p.Form["events"] != "", Deletions: p.Form["deletions"] != "", Enabled: p.Form["enabled"] != "",
		Destination: replication.Rewrite{Namespace: p.Form["namespace"], StripPrefix: p.Form["strip_prefix"]}}
	for field, dst := range map[string]*int{"latest": &rule.Latest, "flatten": &rule.Destination.Flatten} {
		if v := p.Form[field]; v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				p.Errors[field] = "replication.number_invalid"
				continue
			}
			*dst = n
		}
	}
	if len(p.Errors) > 0 {
		d, err := u.replicationData(r)
		if err != nil {
			return err
		}
		p.Data = d
		return u.invalid(w, r, "admin_replication", p)
	}
	if _, err := u.svc.Admin.Replication.PutRule(r.Context(), rule, true); err != nil {
		if errors.Is(err, replication.ErrInvalid) || errors.Is(err, replication.ErrConflict) {
			return u.replicationRefused(w, r, p, "rule_name", err)
		}
		return err
	}
	return u.done(w, r, "/ui/admin/replication", "flash.replication_rule_added")
}

// adminReplicationRuleDelete serves POST /ui/admin/replication/rules/delete
// {rule}, as DELETE /api/v1/replication/rules/{name}.
func (u *UI) adminReplicationRuleDelete(w http.ResponseWriter, r *http.Request) error {
	if err := u.svc.Admin.Replication.DeleteRule(r.Context(), r.PostFormValue("rule")); err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/replication", "flash.replication_rule_deleted")
}

// adminReplicationRunStart serves POST /ui/admin/replication/rules/run
// {rule}, as POST /api/v1/replication/rules/{name}/runs.
func (u *UI) adminReplicationRunStart(w http.ResponseWriter, r *http.Request) error {
	run, err := u.svc.Admin.Replication.StartRun(r.Context(), r.PostFormValue("rule"))
	if err != nil {
		return err
	}
	return u.done(w, r, "/ui/admin/replication/runs/"+strconv.FormatInt(run.ID, 10), "flash.replication_run_started")
}

// replicationRunData is the run page's data.
type replicationRunData struct {
	Run   replication.Run
	Tasks []replication.Task
	// After is the last task's id when more may follow (the next page).
	After int64
}

// replicationTasksPage is how many tasks the run page lists at once.
const replicationTasksPage = 200

// adminReplicationRun serves GET /ui/admin/replication/runs/{id}?status=&after=:
// a run's counts and its tasks, as GET /api/v1/replication/runs/{id}
// and .../tasks.
func (u *UI) adminReplicationRun(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return errNotFound
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	s := u.svc.Admin.Replication
	d := &replicationRunData{}
	if d.Run, err = s.Run(r.Context(), id); err != nil {
		return err
	}
	if d.Tasks, err = s.Tasks(r.Context(), id, r.URL.Query().Get("status"), max(after, 0), replicationTasksPage); err != nil {
		return err
	}
	if len(d.Tasks) == replicationTasksPage {
		d.After = d.Tasks[len(d.Tasks)-1].ID
	}
	p := u.page(r, "replication.run_title")
	p.Data = d
	return u.show(w, r, "admin_replication_run", p)
}

// adminReplicationRunStop serves POST /ui/admin/replication/runs/stop {run},
// as POST /api/v1/replication/runs/{id}/stop.
func (u *UI) adminReplicationRunStop(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PostFormValue("run"), 10, 64)
	if err != nil || id <= 0 {
		return errNotFound
	}
	if _, err := u.svc.Admin.Replication.StopRun(r.Context(), id); err != nil && !errors.Is(err, replication.ErrConflict) {
		return err
	}
	return u.done(w, r, "/ui/admin/replication/runs/"+strconv.FormatInt(id, 10), "flash.replication_run_stopped")
}
