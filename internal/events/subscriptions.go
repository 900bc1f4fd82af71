package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/berth-registry/berth/internal/meta"
)

// Spec is what a user sets on a webhook subscription.
type Spec struct {
	Name           string
	URL            string
	Types          []string // empty: every type
	RepositoryGlob string
	TagPattern     string
	MediaType      string
	Format         string
	// Secrets sign deliveries (whsec_...; two while rotating). On create,
	// nil generates one; on update, nil keeps the current ones and an
	// empty list removes signing.
	Secrets []string
	Headers map[string]string
	Enabled *bool
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$`)

// reservedHeaders are set by delivery and may not be overridden.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Transfer-Encoding", "Connection", "User-Agent",
	"Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"}

// apply validates spec and writes it onto sub.
func (s *Service) apply(sub *meta.Subscription, spec Spec, create bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	if !nameRE.MatchString(spec.Name) {
		return bad("name %q: 1 to 64 letters, digits, '.', '_' or '-'", spec.Name)
	}
	u, err := url.Parse(spec.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return bad("url %q: an http or https URL without credentials", spec.URL)
	}
	if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !s.opts.AllowPrivateTargets && !publicAddr(ip) {
		return fmt.Errorf("%w: %w", ErrInvalid, ErrPrivateTarget)
	}
	for _, t := range spec.Types {
		if !Known(Type(t)) {
			return bad("unknown event type %q", t)
		}
	}
	if spec.Format == "" {
		spec.Format = FormatCloudEvents
	}
	if !slices.Contains(Formats, spec.Format) {
		return bad("format %q: one of %s", spec.Format, strings.Join(Formats, ", "))
	}
	sub.Name, sub.URL, sub.Types, sub.Format = spec.Name, spec.URL, slices.Clone(spec.Types), spec.Format
	slices.Sort(sub.Types)
	sub.RepositoryGlob, sub.TagPattern, sub.MediaType = spec.RepositoryGlob, spec.TagPattern, spec.MediaType
	if _, err := compile(sub); err != nil {
		return bad("%v", err)
	}
	switch {
	case spec.Secrets != nil:
		if len(spec.Secrets) > 2 {
			return bad("at most two secrets (the current and the next, while rotating)")
		}
		for _, sec := range spec.Secrets {
			if _, err := ParseSecret(sec); err != nil {
				return bad("%v", err)
			}
		}
		sub.Secrets = slices.Clone(spec.Secrets)
	case create:
		sub.Secrets = []string{NewSecret()}
	}
	if sub.Secrets == nil {
		sub.Secrets = []string{}
	}
	if spec.Headers != nil || create {
		sub.Headers = map[string]string{}
		for k, v := range spec.Headers {
			ck := http.CanonicalHeaderKey(k)
			if slices.Contains(reservedHeaders, ck) || strings.HasPrefix(strings.ToLower(k), "ce-") {
				return bad("header %s is set by Berth", k)
			}
			if !validHeader(k, v) {
				return bad("header %q is not a valid HTTP header", k)
			}
			sub.Headers[ck] = v
		}
	}
	if spec.Enabled != nil {
		sub.Enabled = *spec.Enabled
	} else if create {
		sub.Enabled = true
	}
	return nil
}

func validHeader(k, v string) bool {
	if k == "" || len(k) > 256 || len(v) > 4096 {
		return false
	}
	for _, c := range k {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// Subscriptions lists the webhooks of project ("" for the system-wide ones).
func (s *Service) Subscriptions(ctx context.Context, project string) ([]meta.Subscription, error) {
	return s.store.Subscriptions(ctx, meta.SubscriptionWebhook, project)
}

// Subscription returns a webhook of project by id.
func (s *Service) Subscription(ctx context.Context, project string, id int64) (meta.Subscription, error) {
	sub, err := s.store.GetSubscription(ctx, id)
	if errors.Is(err, meta.ErrNotFound) || err == nil && (sub.Kind != meta.SubscriptionWebhook || sub.Project != project) {
		return meta.Subscription{}, fmt.Errorf("%w: webhook %d", ErrNotFound, id)
	}
	return sub, nil
}

// CreateSubscription adds a webhook to project ("" for system-wide).
func (s *Service) CreateSubscription(ctx context.Context, project string, spec Spec, createdBy string) (meta.Subscription, error) {
	sub := meta.Subscription{Kind: meta.SubscriptionWebhook, Project: project, CreatedBy: createdBy}
	if err := s.apply(&sub, spec, true); err != nil {
		return sub, err
	}
	err := s.store.CreateSubscription(ctx, &sub)
	if errors.Is(err, meta.ErrConflict) {
		return sub, fmt.Errorf("%w: a webhook named %s exists", ErrConflict, sub.Name)
	}
	return sub, err
}

// UpdateSubscription changes a webhook of project.
func (s *Service) UpdateSubscription(ctx context.Context, project string, id int64, spec Spec) (meta.Subscription, error) {
	sub, err := s.Subscription(ctx, project, id)
	if err != nil {
		return sub, err
	}
	if err := s.apply(&sub, spec, false); err != nil {
		return sub, err
	}
	if err := s.store.UpdateSubscription(ctx, &sub); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return sub, fmt.Errorf("%w: webhook %d", ErrNotFound, id)
		}
		return sub, err
	}
	return sub, nil
}

// DeleteSubscription removes a webhook of project with its deliveries.
func (s *Service) DeleteSubscription(ctx context.Context, project string, id int64) error {
	if _, err := s.Subscription(ctx, project, id); err != nil {
		return err
	}
	return s.store.DeleteSubscription(ctx, id)
}

// DeliveryLog is a delivery with its attempts.
type DeliveryLog struct {
	meta.Delivery
	Attempts []meta.Attempt
}

// Deliveries lists a webhook's deliveries, newest first, with every
// attempt: status "" or one of pending, delivered, dead; before is the
// last id of the previous page (0 for the first).
func (s *Service) Deliveries(ctx context.Context, project string, id int64, status string, before int64, n int) ([]DeliveryLog, error) {
	if _, err := s.Subscription(ctx, project, id); err != nil {
		return nil, err
	}
	if status != "" && status != meta.DeliveryPending && status != meta.DeliveryDelivered && status != meta.DeliveryDead {
		return nil, fmt.Errorf("%w: status %q: pending, delivered or dead", ErrInvalid, status)
	}
	n = min(max(n, 1), 100)
	ds, err := s.store.Deliveries(ctx, id, status, before, n)
	if err != nil {
		return nil, err
	}
	out := make([]DeliveryLog, 0, len(ds))
	for _, d := range ds {
		atts, err := s.store.Attempts(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, DeliveryLog{Delivery: d, Attempts: atts})
	}
	return out, nil
}

// Redeliver queues dead deliveries of a webhook again: one (delivery) or
// all (delivery 0). It returns how many.
func (s *Service) Redeliver(ctx context.Context, project string, id, delivery int64) (int, error) {
	if _, err := s.Subscription(ctx, project, id); err != nil {
		return 0, err
	}
	n, err := s.store.Redeliver(ctx, id, delivery)
	if err == nil && n == 0 && delivery != 0 {
		return 0, fmt.Errorf("%w: no dead delivery %d", ErrNotFound, delivery)
	}
	s.Kick()
	return n, err
}
