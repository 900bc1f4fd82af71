package registry

import (
	"context"

	"github.com/berth-registry/berth/internal/meta"
)

// WithOrigin marks the writes made with ctx as coming from origin (for
// example "replication:<rule>"), so that what reacts to them (events,
// replication triggered by events) can tell them from a client's and two
// sites replicating to each other do not ping-pong. The origin is recorded
// in the writes' events (meta.WithEventSource: one mechanism for both).
func WithOrigin(ctx context.Context, origin string) context.Context {
	return meta.WithEventSource(ctx, "", origin)
}

// Origin returns the origin WithOrigin set ("" for a client's write).
func Origin(ctx context.Context) string {
	_, origin := meta.EventSource(ctx)
	return origin
}
