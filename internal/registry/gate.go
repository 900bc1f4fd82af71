package registry

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrDenied: a pull gate refused to serve a manifest. The API answers
// 403 DENIED with the gate's message.
var ErrDenied = errors.New("requested access to the resource is denied")

// PullGate is a policy consulted before a manifest is served to a client:
// the vulnerability gate and signature policies implement it. CheckPull
// runs for every client's manifest GET and HEAD (ForClient) that finds a
// manifest (stored, cached or proxied), so it must be cheap: one indexed
// lookup at most. The registry's own reads (scanning, replication, the
// web UI's pages, which show why a pull is refused) are not gated. A refusal
// returns an error wrapping ErrDenied whose text tells the client which
// rule was not met. The caller's identity is in ctx
// (auth.SubjectFromContext).
type PullGate interface {
	CheckPull(ctx context.Context, repo string, m *meta.Manifest) error
}

// pullerKey marks a context as a client's pull.
type pullerKey struct{}

// ForClient marks ctx as a client's manifest GET or HEAD (the /v2/ API):
// only those are subject to the pull gates.
func ForClient(ctx context.Context) context.Context { return context.WithValue(ctx, pullerKey{}, true) }

func forClient(ctx context.Context) bool { v, _ := ctx.Value(pullerKey{}).(bool); return v }

// checkPull asks every gate in order, for a client's pull; the first
// refusal wins.
func (s *Service) checkPull(ctx context.Context, repo string, m *meta.Manifest) error {
	if len(s.opts.PullGates) == 0 || !forClient(ctx) {
		return nil
	}
	for _, g := range s.opts.PullGates {
		if err := g.CheckPull(ctx, repo, m); err != nil {
			return err
		}
	}
	return nil
}
