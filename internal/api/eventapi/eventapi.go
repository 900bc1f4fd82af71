// Package eventapi is the management API of webhooks (docs/events.md,
// docs/api.md "Webhooks"): a project's webhooks under
// /api/v1/projects/{project}/webhooks (project admins) and the
// system-wide ones under /api/v1/webhooks (system admins), with their
// delivery log and redelivery. Each handler parses, calls the events
// service once, and writes JSON; the route table is in internal/app.
package eventapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-registry/berth/internal/api/manage"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/meta"
)

// Handlers serve the webhook routes.
type Handlers struct{ svc *events.Service }

// New returns the handlers over the events service.
func New(svc *events.Service) *Handlers { return &Handlers{svc: svc} }

// Webhook is the JSON form of a subscription. Secrets are never shown
// again after creation: only how many there are.
type Webhook struct {
	ID           int64             `json:"id"`
	Project      string            `json:"project,omitempty"`
	Name         string            `json:"name"`
	URL          string            `json:"url"`
	EventTypes   []string          `json:"event_types"`
	Repositories string            `json:"repositories"`
	Tags         string            `json:"tags"`
	MediaTypes   string            `json:"media_types"`
	Format       string            `json:"format"`
	Headers      map[string]string `json:"headers"`
	Enabled      bool              `json:"enabled"`
	Secrets      int               `json:"secrets"`
	Secret       string            `json:"secret,omitempty"` // the generated secret, in the creation response only
	CreatedBy    string            `json:"created_by,omitempty"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

// WebhookIn is the body of a create or update.
type WebhookIn struct {
	Name         string            `json:"name"`
	URL          string            `json:"url"`
	EventTypes   []string          `json:"event_types"`
	Repositories string            `json:"repositories"`
	Tags         string            `json:"tags"`
	MediaTypes   string            `json:"media_types"`
	Format       string            `json:"format"`
	Secrets      []string          `json:"secrets"`
	Headers      map[string]string `json:"headers"`
	Enabled      *bool             `json:"enabled"`
}

func (in WebhookIn) spec() events.Spec {
	return events.Spec{Name: in.Name, URL: in.URL, Types: in.EventTypes, RepositoryGlob: in.Repositories, TagPattern: in.Tags,
		MediaType: in.MediaTypes, Format: in.Format, Secrets: in.Secrets, Headers: in.Headers, Enabled: in.Enabled}
}

func webhookOut(s meta.Subscription) Webhook {
	types := s.Types
	if types == nil {
		types = []string{}
	}
	headers := s.Headers
	if headers == nil {
		headers = map[string]string{}
	}
	return Webhook{ID: s.ID, Project: s.Project, Name: s.Name, URL: s.URL, EventTypes: types, Repositories: s.RepositoryGlob,
		Tags: s.TagPattern, MediaTypes: s.MediaType, Format: s.Format, Headers: headers, Enabled: s.Enabled,
		Secrets: len(s.Secrets), CreatedBy: s.CreatedBy, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
}

// scope is the project of a route: "" for the system-wide routes.
func scope(r *http.Request) string { return r.PathValue("project") }

// List serves GET .../webhooks.
func (h *Handlers) List(w http.ResponseWriter, r *http.Request) error {
	subs, err := h.svc.Subscriptions(r.Context(), scope(r))
	if err != nil {
		return err
	}
	out := make([]Webhook, 0, len(subs))
	for _, s := range subs {
		out = append(out, webhookOut(s))
	}
	return manage.WriteJSON(w, http.StatusOK, map[string]any{"webhooks": out})
}

// Create serves POST .../webhooks. The response shows the signing secret
// when Berth generated it (no "secrets" in the body), the only time it is
// shown.
func (h *Handlers) Create(w http.ResponseWriter, r *http.Request) error {
	var in WebhookIn
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	by := ""
	if subj := auth.SubjectOf(r); subj != nil {
		by = subj.Name
	}
	sub, err := h.svc.CreateSubscription(r.Context(), scope(r), in.spec(), by)
	if err != nil {
		return err
	}
	out := webhookOut(sub)
	if in.Secrets == nil && len(sub.Secrets) == 1 {
		out.Secret = sub.Secrets[0]
	}
	return manage.WriteJSON(w, http.StatusCreated, out)
}

// Get serves GET .../webhooks/{id}.
func (h *Handlers) Get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	sub, err := h.svc.Subscription(r.Context(), scope(r), id)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, webhookOut(sub))
}

// Update serves PUT .../webhooks/{id}: the whole settings; "secrets"
// omitted keeps the current ones, [] removes signing, one or two
// secrets replace them (two while receivers move to the new one).
func (h *Handlers) Update(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var in WebhookIn
	if err := manage.ReadJSON(r, &in); err != nil {
		return err
	}
	sub, err := h.svc.UpdateSubscription(r.Context(), scope(r), id, in.spec())
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusOK, webhookOut(sub))
}

// Delete serves DELETE .../webhooks/{id}.
func (h *Handlers) Delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	if err := h.svc.DeleteSubscription(r.Context(), scope(r), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Attempt is the JSON form of a delivery attempt.
type Attempt struct {
	At         time.Time `json:"at"`
	DurationMS float64   `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

// Delivery is the JSON form of a delivery with its attempts.
type Delivery struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Repository string    `json:"repository,omitempty"`
	Sequence   int64     `json:"sequence"`
	Digest     string    `json:"digest,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Status     string    `json:"status"`
	NextAt     time.Time `json:"next_attempt_at,omitzero"`
	CreatedAt  time.Time `json:"created_at"`
	Attempts   []Attempt `json:"attempts"`
}

func deliveryOut(d events.DeliveryLog) Delivery {
	out := Delivery{ID: d.ID, EventID: d.Event.ID, EventType: d.Event.Type, Repository: d.Event.Repository, Sequence: d.Event.RepoSeq,
		Digest: d.Event.Digest.String(), Tags: d.Event.Tags, Status: d.Status, CreatedAt: d.Event.CreatedAt, Attempts: []Attempt{}}
	if d.Status == meta.DeliveryPending {
		out.NextAt = d.NextAt
	}
	for _, a := range d.Attempts {
		out.Attempts = append(out.Attempts, Attempt{At: a.At, DurationMS: float64(a.Duration.Microseconds()) / 1000,
			StatusCode: a.StatusCode, Error: a.Error, Response: a.Response})
	}
	return out
}

// Deliveries serves GET .../webhooks/{id}/deliveries?status=&before=&n=:
// newest first, with every attempt; "next" is the before of the next page.
func (h *Handlers) Deliveries(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var before int64
	if v := q.Get("before"); v != "" {
		if before, err = strconv.ParseInt(v, 10, 64); err != nil || before < 0 {
			return manage.BadRequest("before: not a delivery id")
		}
	}
	n := 20
	if v := q.Get("n"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 100 {
			return manage.BadRequest("n: between 1 and 100")
		}
	}
	ds, err := h.svc.Deliveries(r.Context(), scope(r), id, q.Get("status"), before, n)
	if err != nil {
		return err
	}
	out := make([]Delivery, 0, len(ds))
	for _, d := range ds {
		out = append(out, deliveryOut(d))
	}
	resp := map[string]any{"deliveries": out}
	if len(ds) == n {
		resp["next"] = ds[len(ds)-1].ID
	}
	return manage.WriteJSON(w, http.StatusOK, resp)
}

// Redeliver serves POST .../webhooks/{id}/deliveries/{delivery}/redeliver
// (one dead delivery) and POST .../webhooks/{id}/redeliver (every dead one).
func (h *Handlers) Redeliver(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	var delivery int64
	if r.PathValue("delivery") != "" {
		if delivery, err = pathID(r, "delivery"); err != nil {
			return err
		}
	}
	n, err := h.svc.Redeliver(r.Context(), scope(r), id, delivery)
	if err != nil {
		return err
	}
	return manage.WriteJSON(w, http.StatusAccepted, map[string]any{"requeued": n})
}

func pathID(r *http.Request, name string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, manage.BadRequest(fmt.Sprintf("%s %q is not a positive integer", name, r.PathValue(name)))
	}
	return id, nil
}
