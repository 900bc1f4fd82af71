package ui

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/meta"
)

// Webhooks pages (docs/events.md): a project's webhooks under
// /ui/projects/{project}/webhooks (project admins) and the system-wide
// ones under /ui/admin/webhooks (system admins), with the same service
// methods and permissions as /api/v1/.../webhooks.

// webhooksData is the data of the list and detail pages.
type webhooksData struct {
	Project  string // "" on the administration pages
	CanAdmin bool   // for manage_tabs
	Base     string // the pages' URL
	Hooks    []meta.Subscription
	Types    []string
	Formats  []string
	// Hook and Deliveries are those of the detail page.
	Hook       *meta.Subscription
	Checked    map[string]bool
	Deliveries []events.DeliveryLog
	// NewSecret is the secret of a webhook just created, shown once.
	NewSecret string
	// Detail is the service's message about an invalid form.
	Detail string
}

func webhooksBase(project string) string {
	if project == "" {
		return "/ui/admin/webhooks"
	}
	return "/ui/projects/" + pathEscape(project) + "/webhooks"
}

func (u *UI) webhooksData(r *http.Request) (*webhooksData, error) {
	project := r.PathValue("project")
	if project != "" {
		if _, err := u.svc.Manager.Project(r.Context(), project); err != nil {
			return nil, err
		}
	}
	d := &webhooksData{Project: project, CanAdmin: u.can(r, manage.PermProjectAdmin), Base: webhooksBase(project),
		Formats: events.Formats, Checked: map[string]bool{}}
	for _, t := range events.Types {
		d.Types = append(d.Types, string(t))
	}
	var err error
	d.Hooks, err = u.svc.Events.Subscriptions(r.Context(), project)
	return d, err
}

func (u *UI) webhooksView(r *http.Request) string {
	if r.PathValue("project") == "" {
		return "admin_webhooks"
	}
	return "webhooks"
}

// webhooks serves GET .../webhooks: the list and the create form.
func (u *UI) webhooks(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "webhooks.title"))
	d, err := u.webhooksData(r)
	if err != nil {
		return err
	}
	p.Data, p.Form["enabled"], p.Form["format"] = d, "on", events.FormatCloudEvents
	return u.show(w, r, u.webhooksView(r), p)
}

// webhookSpec reads the create/edit form.
func webhookSpec(r *http.Request, p *Page) events.Spec {
	f := func(name string) string {
		v := strings.TrimSpace(r.PostFormValue(name))
		p.Form[name] = v
		return v
	}
	spec := events.Spec{Name: f("name"), URL: f("url"), RepositoryGlob: f("repositories"), TagPattern: f("tags"),
		MediaType: f("media_types"), Format: f("format"), Types: r.PostForm["types"]}
	enabled := r.PostFormValue("enabled") != ""
	spec.Enabled = &enabled
	if enabled {
		p.Form["enabled"] = "on"
	}
	if hs := f("headers"); hs != "" {
		spec.Headers = map[string]string{}
		for _, line := range strings.Split(hs, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				spec.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	} else {
		spec.Headers = map[string]string{}
	}
	if s := f("secret"); s != "" {
		spec.Secrets = []string{s}
		if s2 := f("secret2"); s2 != "" {
			spec.Secrets = append(spec.Secrets, s2)
		}
	}
	return spec
}

// webhookFormError shows the service's refusal of a form beside it.
func (u *UI) webhookFormError(w http.ResponseWriter, r *http.Request, p *Page, d *webhooksData, view string, err error) error {
	switch {
	case errors.Is(err, events.ErrInvalid):
		p.Errors["webhook"] = "webhooks.invalid"
		d.Detail = err.Error()
	case errors.Is(err, events.ErrConflict):
		p.Errors["webhook"] = "webhooks.name_taken"
	default:
		return err
	}
	p.Data = d
	return u.invalid(w, r, view, p)
}

// webhookCreate serves POST .../webhooks, as POST /api/v1/.../webhooks;
// the generated secret is shown once.
func (u *UI) webhookCreate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	p := formPage(u.page(r, "webhooks.title"))
	spec := webhookSpec(r, p)
	d, err := u.webhooksData(r)
	if err != nil {
		return err
	}
	for _, t := range spec.Types {
		d.Checked[t] = true
	}
	sub, err := u.svc.Events.CreateSubscription(r.Context(), r.PathValue("project"), spec, viewerName(r))
	if err != nil {
		return u.webhookFormError(w, r, p, d, u.webhooksView(r), err)
	}
	if d.Hooks, err = u.svc.Events.Subscriptions(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	if spec.Secrets == nil && len(sub.Secrets) == 1 {
		d.NewSecret = sub.Secrets[0]
	}
	p.Form, p.Data, p.Flash = map[string]string{"enabled": "on", "format": events.FormatCloudEvents}, d, "flash.webhook_created"
	return u.show(w, r, u.webhooksView(r), p)
}

func viewerName(r *http.Request) string { return viewer(r).Name }

func hookID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, events.ErrNotFound
	}
	return id, nil
}

// webhookData is webhooksData with one webhook and its delivery log.
func (u *UI) webhookData(r *http.Request) (*webhooksData, error) {
	id, err := hookID(r)
	if err != nil {
		return nil, err
	}
	d, err := u.webhooksData(r)
	if err != nil {
		return nil, err
	}
	project := r.PathValue("project")
	sub, err := u.svc.Events.Subscription(r.Context(), project, id)
	if err != nil {
		return nil, err
	}
	d.Hook = &sub
	for _, t := range sub.Types {
		d.Checked[t] = true
	}
	d.Deliveries, err = u.svc.Events.Deliveries(r.Context(), project, id, r.URL.Query().Get("status"), 0, 50)
	return d, err
}

func (u *UI) webhookView(r *http.Request) string {
	if r.PathValue("project") == "" {
		return "admin_webhook"
	}
	return "webhook"
}

// webhook serves GET .../webhooks/{id}: the edit form and the delivery
// log (GET /api/v1/.../webhooks/{id}/deliveries) with redelivery.
func (u *UI) webhook(w http.ResponseWriter, r *http.Request) error {
	p := formPage(u.page(r, "webhooks.title"))
	d, err := u.webhookData(r)
	if err != nil {
		return err
	}
	p.Data, p.Form = d, hookForm(d.Hook)
	return u.show(w, r, u.webhookView(r), p)
}

// hookForm is the edit form's values for a stored webhook.
func hookForm(s *meta.Subscription) map[string]string {
	var headers []string
	for k, v := range s.Headers {
		headers = append(headers, k+": "+v)
	}
	slices.Sort(headers)
	f := map[string]string{"name": s.Name, "url": s.URL, "repositories": s.RepositoryGlob, "tags": s.TagPattern,
		"media_types": s.MediaType, "format": s.Format, "headers": strings.Join(headers, "\n")}
	if s.Enabled {
		f["enabled"] = "on"
	}
	return f
}

// webhookUpdate serves POST .../webhooks/{id}, as PUT: empty secret
// fields keep the current secrets.
func (u *UI) webhookUpdate(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return err
	}
	p := formPage(u.page(r, "webhooks.title"))
	spec := webhookSpec(r, p)
	d, err := u.webhookData(r)
	if err != nil {
		return err
	}
	if _, err := u.svc.Events.UpdateSubscription(r.Context(), r.PathValue("project"), d.Hook.ID, spec); err != nil {
		return u.webhookFormError(w, r, p, d, u.webhookView(r), err)
	}
	return u.done(w, r, webhooksBase(r.PathValue("project"))+"/"+strconv.FormatInt(d.Hook.ID, 10), "flash.webhook_saved")
}

// webhookDelete serves POST .../webhooks/{id}/delete, as DELETE.
func (u *UI) webhookDelete(w http.ResponseWriter, r *http.Request) error {
	id, err := hookID(r)
	if err != nil {
		return err
	}
	if err := u.svc.Events.DeleteSubscription(r.Context(), r.PathValue("project"), id); err != nil {
		return err
	}
	return u.done(w, r, webhooksBase(r.PathValue("project")), "flash.webhook_deleted")
}

// webhookRedeliver serves POST .../webhooks/{id}/redeliver {delivery}
// (empty: every dead delivery), as POST .../redeliver.
func (u *UI) webhookRedeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := hookID(r)
	if err != nil {
		return err
	}
	var delivery int64
	if v := r.PostFormValue("delivery"); v != "" {
		if delivery, err = strconv.ParseInt(v, 10, 64); err != nil {
			return events.ErrNotFound
		}
	}
	if _, err := u.svc.Events.Redeliver(r.Context(), r.PathValue("project"), id, delivery); err != nil {
		return err
	}
	return u.done(w, r, webhooksBase(r.PathValue("project"))+"/"+strconv.FormatInt(id, 10), "flash.webhook_redelivered")
}
