package events

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// dispatchBatch is how many outbox events one dispatch transaction turns
// into deliveries.
const dispatchBatch = 200

// Run delivers events until ctx ends: it turns new outbox events into
// deliveries, leases due ones (at most Workers*4 at a time, so memory is
// bounded however long a target is down), sends them, and purges what the
// retention period let go. Every instance runs it; leases keep each
// delivery on one instance at a time.
func (s *Service) Run(ctx context.Context) error {
	poll := time.NewTicker(s.opts.Poll)
	defer poll.Stop()
	var lastPurge time.Time
	for {
		s.tick(ctx)
		if time.Since(lastPurge) > time.Hour {
			lastPurge = time.Now()
			if n, err := s.store.PurgeEvents(ctx, time.Now().Add(-s.opts.Retention)); err != nil && ctx.Err() == nil {
				s.log.Warn("events: purge", "err", err)
			} else if n > 0 {
				s.log.Info("events: purged", "events", n)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-s.kick:
		}
	}
}

// tick dispatches and delivers until nothing is due.
func (s *Service) tick(ctx context.Context) {
	// Consumers first: a dispatch must know their subscriptions.
	names := s.storeConsumers(ctx)
	for ctx.Err() == nil {
		n, err := s.store.DispatchEvents(ctx, dispatchBatch, s.wants())
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("events: dispatch", "err", err)
			}
			return
		}
		if n < dispatchBatch {
			break
		}
	}
	for ctx.Err() == nil {
		ds, err := s.store.ClaimDeliveries(ctx, meta.ClaimOptions{Owner: s.opts.Instance, TTL: s.leaseTTL(),
			Limit: s.opts.Workers * 4, Consumers: names})
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("events: claim", "err", err)
			}
			return
		}
		if len(ds) == 0 {
			return
		}
		sem := make(chan struct{}, s.opts.Workers)
		var wg sync.WaitGroup
		for i := range ds {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				s.deliver(ctx, &ds[i])
			}()
		}
		wg.Wait()
	}
}

// wants is the dispatch filter; it also counts recorded events.
func (s *Service) wants() func(*meta.Subscription, *meta.OutboxEvent) bool {
	match := matcher()
	counted := map[int64]bool{}
	return func(sub *meta.Subscription, e *meta.OutboxEvent) bool {
		if !counted[e.Seq] {
			counted[e.Seq] = true
			s.m.recorded.WithLabelValues(e.Type).Inc()
		}
		return match(sub, e)
	}
}

func (s *Service) leaseTTL() time.Duration { return 2*s.opts.Timeout + 30*time.Second }

// backoff is the delay before attempt n+1 after n failed ones: 1s
// doubling up to an hour, with ±20% jitter so retries of many deliveries
// do not arrive together.
func backoff(n int) time.Duration {
	d := time.Hour
	if n < 12 {
		d = min(time.Second<<n, time.Hour)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// deliver makes one attempt at a leased delivery and records it.
func (s *Service) deliver(ctx context.Context, d *meta.Delivery) {
	sub, err := s.store.GetSubscription(ctx, d.SubscriptionID)
	if err != nil {
		return // deleted meanwhile: its deliveries went with it; the lease expires otherwise
	}
	ev := fromOutbox(&d.Event)
	start := time.Now()
	a := meta.Attempt{At: start.UTC()}
	if sub.Kind == meta.SubscriptionConsumer {
		err = s.consume(ctx, sub.Name, ev)
	} else {
		a.StatusCode, a.Response, err = s.send(ctx, &sub, &ev)
	}
	a.Duration = time.Since(start)
	o := meta.DeliveryOutcome{Attempt: a, Status: meta.DeliveryDelivered}
	outcome := "delivered"
	switch {
	case errors.Is(err, errUnrepresentable):
		o.Attempt.Error = "skipped: " + err.Error()
		outcome = "skipped"
	case err != nil:
		o.Attempt.Error = err.Error()
		if len(o.Attempt.Error) > responseExcerpt {
			o.Attempt.Error = o.Attempt.Error[:responseExcerpt]
		}
		next := time.Now().Add(backoff(d.Attempts))
		if next.Sub(d.Event.CreatedAt) > s.opts.MaxRetry {
			o.Status, outcome = meta.DeliveryDead, "dead"
		} else {
			o.Status, o.NextAt, outcome = meta.DeliveryPending, next, "failed"
		}
	}
	s.m.deliveries.WithLabelValues(sub.Kind, outcome).Inc()
	s.m.latency.WithLabelValues(sub.Kind).Observe(a.Duration.Seconds())
	// Record the attempt even when ctx ended meanwhile (shutdown).
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.store.FinishDelivery(fctx, d.ID, s.opts.Instance, o); err != nil {
		s.log.Warn("events: finish delivery", "delivery", d.ID, "err", err)
	}
	if outcome == "dead" {
		s.log.Warn("events: delivery dead-lettered", "subscription", sub.Name, "event", ev.ID, "err", o.Attempt.Error)
	}
}

func (s *Service) consume(ctx context.Context, name string, ev Event) (err error) {
	s.mu.Lock()
	fn := s.consumers[name].fn
	s.mu.Unlock()
	if fn == nil {
		return fmt.Errorf("consumer %s is not running on this instance", name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("consumer %s panicked: %v", name, r)
		}
	}()
	return fn(ctx, ev)
}

// send posts the event to a webhook: the format's body and headers, the
// subscription's custom headers, and the Standard Webhooks signature.
func (s *Service) send(ctx context.Context, sub *meta.Subscription, ev *Event) (int, string, error) {
	body, h, err := Encode(sub.Format, ev, s.opts.Source)
	if err != nil {
		return 0, "", err
	}
	for k, v := range sub.Headers {
		if h.Get(k) == "" {
			h.Set(k, v)
		}
	}
	h.Set("User-Agent", "Berth-Webhooks/1")
	ts := time.Now()
	h.Set("webhook-id", ev.ID)
	h.Set("webhook-timestamp", fmt.Sprint(ts.Unix()))
	if len(sub.Secrets) > 0 {
		sig, err := Sign(sub.Secrets, ev.ID, ts, body)
		if err != nil {
			return 0, "", err
		}
		h.Set("webhook-signature", sig)
	}
	status, excerpt, err := post(ctx, s.client, sub.URL, h, body)
	if err != nil {
		return status, excerpt, err
	}
	if status < 200 || status > 299 {
		return status, excerpt, fmt.Errorf("target answered %d %s", status, http.StatusText(status))
	}
	return status, excerpt, nil
}
