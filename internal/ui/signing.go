package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/trust"
)

// signingData is the signature policies page's data.
type signingData struct {
	Project  string
	CanAdmin bool
	Rules    []signingRuleRow
	Keys     []meta.TrustMaterial
	Kinds    []string
}

// signingRuleRow is a rule and its JSON as the API shows it.
type signingRuleRow struct {
	trust.Rule
	JSON string
}

var trustKinds = []string{trust.KindCosignKey, trust.KindTrustedRoot, trust.KindNotationCA, trust.KindNotationSA, trust.KindNotationTSA}

// signing serves GET /ui/projects/{project}/signing: the project's
// signature rules and trust material, as GET /api/v1/projects/{project}/signing/{rules,keys}.
func (u *UI) signing(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "signing.title"))
	d, err := u.signingData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.show(w, r, "signing", p)
}

func (u *UI) signingData(r *http.Request) (*signingData, error) {
	ctx, project := r.Context(), r.PathValue("project")
	if _, err := u.svc.Manager.Project(ctx, project); err != nil {
		return nil, err
	}
	d := &signingData{Project: project, CanAdmin: u.can(r, manage.PermProjectAdmin), Kinds: trustKinds}
	rules, err := u.svc.Trust.Rules(ctx, project)
	if err != nil {
		return nil, err
	}
	for _, rule := range rules {
		b, _ := json.MarshalIndent(rule, "", "  ")
		d.Rules = append(d.Rules, signingRuleRow{Rule: rule, JSON: string(b)})
	}
	d.Keys, err = u.svc.Trust.Materials(ctx, project)
	return d, err
}

// signingForm renders the page with a form's error (422).
func (u *UI) signingForm(w http.ResponseWriter, r *http.Request, p *Page) error {
	d, err := u.signingData(r)
	if err != nil {
		return err
	}
	p.Data = d
	return u.invalid(w, r, "signing", p)
}

func signingURL(project string) string { return "/ui/projects/" + pathEscape(project) + "/signing" }

// signingKeyAdd serves POST /ui/projects/{project}/signing/keys {name, kind, data},
// as POST .../signing/keys.
func (u *UI) signingKeyAdd(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "signing.title"))
	m := meta.TrustMaterial{Project: project, Name: r.PostFormValue("name"), Kind: r.PostFormValue("kind"), Data: r.PostFormValue("data")}
	p.Form["key_name"], p.Form["key_kind"], p.Form["key_data"] = m.Name, m.Kind, m.Data
	_, err := u.svc.Trust.AddMaterial(r.Context(), m)
	switch {
	case errors.Is(err, trust.ErrInvalid):
		p.Errors["key"] = "signing.key_invalid"
		return u.signingForm(w, r, p)
	case errors.Is(err, trust.ErrConflict):
		p.Errors["key"] = "signing.key_exists"
		return u.signingForm(w, r, p)
	case err != nil:
		return err
	}
	return u.done(w, r, signingURL(project), "flash.signing_key_added")
}

// signingKeyDelete serves POST /ui/projects/{project}/signing/keys/delete {id}.
func (u *UI) signingKeyDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := formID(r)
	if err != nil {
		return err
	}
	project := r.PathValue("project")
	if err := u.svc.Trust.DeleteMaterial(r.Context(), project, id); err != nil {
		return err
	}
	return u.done(w, r, signingURL(project), "flash.signing_key_deleted")
}

// signingRuleAdd serves POST /ui/projects/{project}/signing/rules {rule}:
// the rule as the API's JSON.
func (u *UI) signingRuleAdd(w http.ResponseWriter, r *http.Request) error {
	project := r.PathValue("project")
	p := formPage(u.page(r, "signing.title"))
	p.Form["rule"] = r.PostFormValue("rule")
	var rule trust.Rule
	if err := json.Unmarshal([]byte(p.Form["rule"]), &rule); err != nil {
		p.Errors["rule"] = "signing.rule_not_json"
		return u.signingForm(w, r, p)
	}
	_, err := u.svc.Trust.AddRule(r.Context(), project, rule)
	if errors.Is(err, trust.ErrInvalid) {
		p.Errors["rule"] = "signing.rule_invalid"
		return u.signingForm(w, r, p)
	}
	if err != nil {
		return err
	}
	return u.done(w, r, signingURL(project), "flash.signing_rule_added")
}

// signingRuleDelete serves POST /ui/projects/{project}/signing/rules/delete {id}.
func (u *UI) signingRuleDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := formID(r)
	if err != nil {
		return err
	}
	project := r.PathValue("project")
	if err := u.svc.Trust.DeleteRule(r.Context(), project, id); err != nil {
		return err
	}
	return u.done(w, r, signingURL(project), "flash.signing_rule_deleted")
}

func formID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, manage.BadRequest("id is not a positive integer")
	}
	return id, nil
}
