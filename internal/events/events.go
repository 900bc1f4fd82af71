// Package events is Berth's durable event outbox and its delivery: every
// change that matters is recorded by the metadata store in the change's
// own transaction (meta.EventStore), then turned into one delivery per
// matching subscription — a webhook or a built-in consumer such as
// replication — which workers on any instance lease, send, retry with
// back-off and dead-letter, in order per (subscription, repository).
// Formats (CloudEvents, Harbor, Distribution, Slack) and Standard Webhooks
// signing are in format.go and sign.go; docs/events.md is the user guide.
package events

import (
	"context"
	"encoding/json"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Type is an event type.
type Type string

// Event types.
const (
	// ManifestPushed: a manifest was pushed (Tags: the tags it was pushed
	// with; a tag moved to another manifest is this event).
	ManifestPushed Type = meta.EventManifestPushed
	// TagDeleted: a tag was deleted (Digest: what it pointed at).
	TagDeleted Type = meta.EventTagDeleted
	// ManifestDeleted: a manifest and the tags on it were deleted.
	ManifestDeleted Type = meta.EventManifestDeleted
	// RepositoryDeleted: a whole repository was deleted.
	RepositoryDeleted Type = meta.EventRepositoryDeleted
	// ManifestPulled: a manifest was pulled (only with events.pulls).
	ManifestPulled Type = "manifest.pulled"
	// QuotaWarning: a project's usage crossed a configured percentage.
	QuotaWarning Type = "quota.warning"
	// QuotaExceeded: a push was refused by the project's quota.
	QuotaExceeded Type = "quota.exceeded"
	// GCFinished: a garbage collection run finished.
	GCFinished Type = "gc.finished"
	// RetentionFinished: a retention run finished.
	RetentionFinished Type = "retention.finished"
)

// Types lists every event type.
var Types = []Type{ManifestPushed, TagDeleted, ManifestDeleted, RepositoryDeleted, ManifestPulled,
	QuotaWarning, QuotaExceeded, GCFinished, RetentionFinished}

// Known reports whether t is an event type.
func Known(t Type) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is a recorded event as subscribers receive it.
type Event struct {
	// ID is stable: every delivery of the event carries it (at-least-once
	// receivers deduplicate on it).
	ID   string
	Type Type
	Time time.Time
	// Repository is "" for events about no repository (GC runs).
	Repository string
	// Sequence numbers the repository's events from 1, in commit order.
	Sequence  int64
	Project   string
	Digest    digest.Digest
	MediaType string
	Tags      []string
	// Actor is the user or robot that caused the event.
	Actor string
	// Origin names the system on whose behalf the change was made
	// ("replication:<rule>"), "" for clients.
	Origin string
	// Data holds type-specific details (quota figures, run reports).
	Data map[string]any
}

// fromOutbox converts a stored event.
func fromOutbox(e *meta.OutboxEvent) Event {
	ev := Event{ID: e.ID, Type: Type(e.Type), Time: e.CreatedAt, Repository: e.Repository, Sequence: e.RepoSeq,
		Project: e.Project, Digest: e.Digest, MediaType: e.MediaType, Tags: e.Tags, Actor: e.Actor, Origin: e.Origin}
	if e.Data != "" {
		_ = json.Unmarshal([]byte(e.Data), &ev.Data)
	}
	return ev
}

// WithOrigin returns ctx whose writes record origin in their events
// (replication passes "replication:<rule>" so that two registries
// replicating to each other can skip each other's events).
func WithOrigin(ctx context.Context, origin string) context.Context {
	return meta.WithEventSource(ctx, "", origin)
}

// WithActor returns ctx whose writes record actor in their events.
func WithActor(ctx context.Context, actor string) context.Context {
	return meta.WithEventSource(ctx, actor, "")
}
