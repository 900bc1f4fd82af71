package replication

import (
	"context"
	"encoding/json"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// EventType mirrors the event types of the durable outbox (internal/events)
// that replication reacts to.
type EventType string

// Event types replication reacts to.
const (
	ManifestPushed  EventType = "manifest.pushed"
	TagMoved        EventType = "tag.moved"
	TagDeleted      EventType = "tag.deleted"
	ManifestDeleted EventType = "manifest.deleted"
)

// EventTypes are the types HandleEvent reacts to (to register the
// consumer with).
var EventTypes = []EventType{ManifestPushed, TagMoved, TagDeleted, ManifestDeleted}

// Event is a change in Berth's registry, as the outbox delivers it (a
// small mirror of events.Event, so this package does not depend on it).
type Event struct {
	ID         string    `json:"id"`
	Type       EventType `json:"type"`
	Time       time.Time `json:"time"`
	Repository string    `json:"repository"`
	Digest     string    `json:"digest,omitempty"`
	MediaType  string    `json:"media_type,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	// Origin is "replication:<rule>" for replication's own writes.
	Origin string `json:"origin,omitempty"`
}

// HandleEvent turns a push or deletion in Berth into a run of each
// enabled push rule with events on that selects it: a copy task per
// selected tag (a push by digest alone: the digest, which is copied when
// it has a subject, a signature or SBOM pushed through the referrers
// API); with deletions on, a delete task per deleted tag or manifest.
// Replication's own writes are ignored, so two registries replicating to
// each other do not ping-pong. The outbox delivers at least once: a
// repeated event makes a run whose tasks find everything up to date.
func (s *Service) HandleEvent(ctx context.Context, ev Event) error {
	if IsReplicated(ev.Origin) {
		return nil
	}
	rules, err := s.Rules(ctx)
	if err != nil {
		return err
	}
	request, _ := json.Marshal(ev)
	for _, r := range rules {
		if !r.Enabled || !r.Events || r.Direction != Push {
			continue
		}
		tasks, err := eventTasks(&r, ev)
		if err != nil {
			return err
		}
		if len(tasks) == 0 {
			continue
		}
		if _, err := s.createRun(ctx, r.Name, TriggerEvent, string(request), tasks); err != nil {
			return err
		}
	}
	return nil
}

// eventTasks are the tasks an event makes for a rule (none if the rule
// does not select it).
func eventTasks(r *Rule, ev Event) ([]meta.ReplicationTask, error) {
	f, err := compileFilter(r)
	if err != nil {
		return nil, err
	}
	if !f.repo(ev.Repository) {
		return nil, nil
	}
	dest, err := f.rewrite(ev.Repository)
	if err != nil {
		return nil, err
	}
	task := func(kind, ref string) meta.ReplicationTask {
		return meta.ReplicationTask{Kind: kind, Source: ev.Repository, Dest: dest, Ref: ref, Digest: ev.Digest}
	}
	var tasks []meta.ReplicationTask
	switch ev.Type {
	case ManifestPushed, TagMoved:
		for _, t := range ev.Tags {
			switch {
			case f.tag(t):
				tasks = append(tasks, task(taskCopy, t))
			case r.referrers() && isCosignTag(t):
				tasks = append(tasks, task(taskCopy, t)) // a cosign signature, attestation or SBOM
			}
		}
		if len(ev.Tags) == 0 && ev.Digest != "" && r.referrers() {
			tasks = append(tasks, task(taskCopy, ev.Digest))
		}
	case TagDeleted:
		if !r.Deletions {
			return nil, nil
		}
		for _, t := range ev.Tags {
			if f.tag(t) {
				tasks = append(tasks, task(taskDelete, t))
			}
		}
	case ManifestDeleted:
		if r.Deletions && ev.Digest != "" {
			tasks = append(tasks, task(taskDelete, ev.Digest))
		}
	}
	return tasks, nil
}
