package app

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/events"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/replication"
)

// Event outbox wiring (docs/events.md): the service that records the
// events that are not metadata changes, manages webhooks and runs the
// delivery workers (started with the jobs, stopped by Close).

// newEvents builds the events service from the config.
func (a *App) newEvents(store meta.Store) {
	c := a.cfg.Events
	a.events = events.New(store, events.Options{
		Pulls: c.Pulls, QuotaThresholds: c.QuotaThresholds, MaxRetry: c.MaxRetry, Retention: c.Retention,
		Timeout: c.Timeout, Workers: c.Workers, Poll: c.Poll, AllowPrivateTargets: c.AllowPrivateTargets,
		Source: c.ExternalURL, Log: a.log.With("component", "events"),
	})
}

// Events is the events service: RegisterConsumer subscribes built-in
// consumers (replication) before the jobs start.
func (a *App) Events() *events.Service { return a.events }

// startEvents runs the delivery workers until Close.
func (a *App) startEvents(ctx context.Context) {
	a.eventsOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		done := make(chan struct{})
		a.eventsStop = func() { cancel(); <-done }
		go func() {
			defer close(done)
			a.events.Run(ctx)
		}()
	})
}

// stopEvents stops the delivery workers (Close).
func (a *App) stopEvents() {
	a.eventsOnce.Do(func() {}) // never started: nothing to stop
	if a.eventsStop != nil {
		a.eventsStop()
	}
}

// onPushEvent wakes the workers after a push on this instance, so its
// event is delivered at once rather than at the next poll.
func (a *App) onPushEvent(context.Context, *meta.Manifest, []string) { a.events.Kick() }

// onPullEvent records a pull (only with events.pulls).
func (a *App) onPullEvent(ctx context.Context, m *meta.Manifest, ref string) {
	tag := ref
	if m.Digest.String() == ref {
		tag = ""
	}
	if err := a.events.RecordPull(ctx, m, tag); err != nil {
		a.log.WarnContext(ctx, "events: record pull", "repo", m.Repository, "err", err)
	}
}

// onQuotaUsage records quota warnings and refusals. It is called under
// the quota check's lock, so it records in the background.
func (a *App) onQuotaUsage(ctx context.Context, project string, before, after, limit int64) {
	ctx = context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := a.events.QuotaUsage(ctx, project, before, after, limit); err != nil {
			a.log.Warn("events: record quota event", "project", project, "err", err)
		}
	}()
}

// onRetentionFinished records a retention run's report.
func (a *App) onRetentionFinished(ctx context.Context, res *policy.RunResult) {
	data := map[string]any{"id": res.ID, "trigger": res.Trigger, "status": res.Status, "repositories": res.Repositories,
		"tags_kept": res.TagsKept, "tags_deleted": res.TagsDeleted, "manifests_deleted": res.ManifestsDeleted,
		"deleted": res.TagsDeleted + res.ManifestsDeleted, "retained": res.TagsKept}
	if res.Error != "" {
		data["error"] = res.Error
	}
	if err := a.events.Record(ctx, events.Event{Type: events.RetentionFinished, Project: res.Project, Data: data}); err != nil {
		a.log.WarnContext(ctx, "events: record retention run", "project", res.Project, "err", err)
	}
}

// onGCFinished records a garbage collection run's report (not dry runs).
func (a *App) onGCFinished(r gc.Report, runErr error) {
	if r.DryRun {
		return
	}
	var data map[string]any
	b, err := json.Marshal(r)
	if err == nil {
		err = json.Unmarshal(b, &data)
	}
	if err != nil {
		a.log.Warn("events: gc report", "err", err)
		return
	}
	delete(data, "items") // the list of what was deleted can be long; the job's report has it
	if runErr != nil {
		data["error"] = runErr.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.events.Record(ctx, events.Event{Type: events.GCFinished, Data: data}); err != nil {
		a.log.Warn("events: record gc run", "err", err)
	}
}

// replicateEvents makes the event outbox trigger replication: pushes and
// deletions reach replication's push rules durably (at least once, in
// order per repository, retried), never from memory only.
func (a *App) replicateEvents() {
	types := map[events.Type]replication.EventType{
		events.ManifestPushed:  replication.ManifestPushed,
		events.TagDeleted:      replication.TagDeleted,
		events.ManifestDeleted: replication.ManifestDeleted,
	}
	var want []events.Type
	for t := range types {
		want = append(want, t)
	}
	slices.Sort(want)
	a.events.RegisterConsumer("replication", want, func(ctx context.Context, ev events.Event) error {
		return a.repl.HandleEvent(ctx, replication.Event{ID: ev.ID, Type: types[ev.Type], Time: ev.Time,
			Repository: ev.Repository, Digest: string(ev.Digest), MediaType: ev.MediaType, Tags: ev.Tags,
			Actor: ev.Actor, Origin: ev.Origin})
	})
}
