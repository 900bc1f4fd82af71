package meta

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// CacheChange is a change that cached manifest reads must see: a deleted
// manifest, or tags that were created, moved or deleted.
type CacheChange struct {
	// Digest: a manifest of this digest was deleted, from some repository.
	Digest digest.Digest
	// Repository: one of its tags changed.
	Repository string
	// AllTags: tags of some repository changed (it is being deleted).
	AllTags bool
}

// CacheFeed is an optional capability of a Store that several instances
// share (PostgreSQL): it tells every instance the changes any of them
// made, so each can cache manifest reads.
type CacheFeed interface {
	// FollowCache follows the changes until ctx ends, reconnecting as
	// needed. It calls live(true) when it starts following (again) and
	// live(false) as soon as it may have missed a change; fn gets each
	// change in between, once it is committed.
	FollowCache(ctx context.Context, live func(bool), fn func(CacheChange))
}
