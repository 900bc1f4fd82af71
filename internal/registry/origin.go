package registry

import "context"

// originKey is the context key of a write's origin.
type originKey struct{}

// WithOrigin marks the writes made with ctx as coming from origin (for
// example "replication:<rule>"), so that what reacts to them (events,
// replication triggered by events) can tell them from a client's and two
// sites replicating to each other do not ping-pong.
func WithOrigin(ctx context.Context, origin string) context.Context {
	return context.WithValue(ctx, originKey{}, origin)
}

// Origin returns the origin WithOrigin set ("" for a client's write).
func Origin(ctx context.Context) string {
	s, _ := ctx.Value(originKey{}).(string)
	return s
}
