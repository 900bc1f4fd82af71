package events

import (
	"slices"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// filter is a subscription's compiled selection of events.
type filter struct {
	project   string
	types     []string
	repo, tag policy.Pattern
	hasTag    bool
	mediaType policy.Pattern
	hasMedia  bool
	consumer  bool
}

// compile parses a subscription's filters. Patterns are the ones of
// immutability and retention rules (policy.Pattern: comma-separated
// doublestar globs, "!" negates); the repository glob matches the full
// repository name ("" is every repository).
func compile(s *meta.Subscription) (*filter, error) {
	f := &filter{project: s.Project, types: s.Types, consumer: s.Kind == meta.SubscriptionConsumer}
	var err error
	if f.repo, err = policy.ParsePattern(s.RepositoryGlob); err != nil {
		return nil, err
	}
	if s.TagPattern != "" {
		if f.tag, err = policy.ParsePattern(s.TagPattern); err != nil {
			return nil, err
		}
		f.hasTag = true
	}
	if s.MediaType != "" {
		if f.mediaType, err = policy.ParsePattern(s.MediaType); err != nil {
			return nil, err
		}
		f.hasMedia = true
	}
	return f, nil
}

// taggable are the types whose events carry tags; a tag pattern only
// filters these (and lets the others through).
var taggable = []string{string(ManifestPushed), string(TagDeleted), string(ManifestDeleted), string(ManifestPulled)}

// match reports whether the subscription wants the event.
func (f *filter) match(e *meta.OutboxEvent) bool {
	if len(f.types) > 0 && !slices.Contains(f.types, e.Type) {
		return false
	}
	if f.consumer {
		return true
	}
	if f.project != "" && e.Project != f.project {
		return false
	}
	if e.Repository != "" && !f.repo.Match(e.Repository) {
		return false
	}
	if f.hasMedia && e.MediaType != "" && !f.mediaType.Match(e.MediaType) {
		return false
	}
	if f.hasTag && slices.Contains(taggable, e.Type) {
		return slices.ContainsFunc(e.Tags, f.tag.Match)
	}
	return true
}

// matcher returns the function DispatchEvents calls, compiling each
// subscription once per dispatch; a subscription whose filters no longer
// parse matches nothing.
func matcher() func(*meta.Subscription, *meta.OutboxEvent) bool {
	cache := map[int64]*filter{}
	return func(s *meta.Subscription, e *meta.OutboxEvent) bool {
		f, ok := cache[s.ID]
		if !ok {
			f, _ = compile(s)
			cache[s.ID] = f
		}
		return f != nil && f.match(e)
	}
}
