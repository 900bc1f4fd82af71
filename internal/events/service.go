package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Sentinel errors.
var (
	// ErrInvalid: a subscription's settings are not acceptable.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: no such webhook or delivery (in that scope).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a webhook of that name exists in that scope.
	ErrConflict = errors.New("conflict")
)

// Options configure a Service.
type Options struct {
	// Pulls records manifest.pulled events.
	Pulls bool
	// QuotaThresholds are the percentages of a quota whose crossing
	// records quota.warning.
	QuotaThresholds []int
	MaxRetry        time.Duration
	Retention       time.Duration
	Timeout         time.Duration
	Workers         int
	Poll            time.Duration
	// AllowPrivateTargets lets webhooks reach internal addresses.
	AllowPrivateTargets bool
	// Source is the registry's external address (CloudEvents source).
	Source string
	// Instance names this process in delivery leases.
	Instance string
	Log      *slog.Logger
	Metrics  *Metrics
}

// Consumer is a built-in subscriber (replication): it must act on the
// event (durably enqueue its own work) within the delivery timeout and
// return nil, or return an error to be called again with back-off.
type Consumer func(ctx context.Context, ev Event) error

// Service records events that are not metadata changes, manages
// subscriptions and runs the delivery workers.
type Service struct {
	store  meta.Store
	opts   Options
	log    *slog.Logger
	client *http.Client
	m      *Metrics
	kick   chan struct{}

	mu        sync.RWMutex
	consumers map[string]registered
}

// New returns a Service over store.
func New(store meta.Store, o Options) *Service {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), meta.NewEventID()[:8])
	}
	if o.Source == "" {
		o.Source = "berth"
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(store)
	}
	return &Service{store: store, opts: o, log: o.Log, client: newClient(o.Timeout, o.AllowPrivateTargets), m: o.Metrics,
		kick: make(chan struct{}, 1), consumers: map[string]registered{}}
}

// RegisterConsumer subscribes fn to the events of types (every type when
// empty), delivered like a webhook: durably, at least once, in order per
// repository, retried with back-off. Call it before Run, on every
// instance that should run the consumer; the subscription (its queue of
// deliveries) lives in the database under name and survives restarts.
// Run creates or updates that row before it delivers anything (and keeps
// trying while the database refuses), so events recorded from then on are
// never missed by the consumer.
func (s *Service) RegisterConsumer(name string, types []Type, fn func(ctx context.Context, ev Event) error) {
	want := make([]string, 0, len(types))
	for _, t := range types {
		want = append(want, string(t))
	}
	slices.Sort(want)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.consumers[name] = registered{fn: fn, types: want}
}

// registered is a consumer RegisterConsumer was given; stored says its
// subscription row is up to date.
type registered struct {
	fn     Consumer
	types  []string
	stored bool
}

// storeConsumers creates or updates the subscription rows of the
// registered consumers not yet stored, and returns the names of those
// stored (the ones this instance may claim deliveries for).
func (s *Service) storeConsumers(ctx context.Context) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for name, c := range s.consumers {
		if !c.stored {
			if err := s.storeConsumer(ctx, name, c.types); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("events: register consumer", "consumer", name, "err", err)
				}
				continue
			}
			c.stored = true
			s.consumers[name] = c
		}
		names = append(names, name)
	}
	return names
}

func (s *Service) storeConsumer(ctx context.Context, name string, want []string) error {
	subs, err := s.store.Subscriptions(ctx, meta.SubscriptionConsumer, "")
	if err != nil {
		return err
	}
	for _, sub := range subs {
		if sub.Name != name {
			continue
		}
		if slices.Equal(sub.Types, want) && sub.Enabled {
			return nil
		}
		sub.Types, sub.Enabled = want, true
		return s.store.UpdateSubscription(ctx, &sub)
	}
	sub := &meta.Subscription{Kind: meta.SubscriptionConsumer, Name: name, Types: want, Enabled: true, Secrets: []string{}}
	if err := s.store.CreateSubscription(ctx, sub); err != nil && !errors.Is(err, meta.ErrConflict) {
		return err
	}
	return nil
}

// Metrics returns the service's metrics collector (register it once).
func (s *Service) Metrics() *Metrics { return s.m }

// Kick wakes the workers (after a push on this instance).
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Record records an event that is not a metadata change (pulls, quota,
// run reports) in a transaction of its own.
func (s *Service) Record(ctx context.Context, ev Event) error {
	actor, origin := meta.EventSource(ctx)
	e := &meta.OutboxEvent{ID: ev.ID, Type: string(ev.Type), Repository: ev.Repository, Project: ev.Project,
		Digest: ev.Digest, MediaType: ev.MediaType, Tags: ev.Tags, Actor: ev.Actor, Origin: ev.Origin, CreatedAt: ev.Time}
	if e.Actor == "" {
		e.Actor = actor
	}
	if e.Origin == "" {
		e.Origin = origin
	}
	if e.Project == "" && e.Repository != "" {
		e.Project = meta.NewEvent(ctx, "", e.Repository).Project
	}
	if len(ev.Data) > 0 {
		b, err := json.Marshal(ev.Data)
		if err != nil {
			return err
		}
		e.Data = string(b)
	}
	if err := s.store.RecordEvent(ctx, e); err != nil {
		return err
	}
	s.Kick()
	return nil
}

// RecordPull records a manifest.pulled event when pulls are enabled.
func (s *Service) RecordPull(ctx context.Context, m *meta.Manifest, tag string) error {
	if !s.opts.Pulls {
		return nil
	}
	ev := Event{Type: ManifestPulled, Repository: m.Repository, Digest: m.Digest, MediaType: m.MediaType}
	if tag != "" {
		ev.Tags = []string{tag}
	}
	return s.Record(ctx, ev)
}

// QuotaUsage records quota.warning when a project's usage went from
// before to after bytes of limit across a configured threshold (the
// highest one crossed), and quota.exceeded when after is over limit.
func (s *Service) QuotaUsage(ctx context.Context, project string, before, after, limit int64) error {
	if limit <= 0 || after <= before {
		return nil
	}
	data := map[string]any{"used": after, "limit": limit}
	if after > limit {
		return s.Record(ctx, Event{Type: QuotaExceeded, Project: project, Data: data})
	}
	crossed := 0
	for _, p := range s.opts.QuotaThresholds {
		at := limit * int64(p) / 100
		if before < at && after >= at && p > crossed {
			crossed = p
		}
	}
	if crossed == 0 {
		return nil
	}
	data["threshold_percent"] = crossed
	return s.Record(ctx, Event{Type: QuotaWarning, Project: project, Data: data})
}
