package registry

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrDenied: a pull gate refused to serve a manifest. The API answers
// 403 DENIED with the gate's message.
var ErrDenied = errors.New("requested access to the resource is denied")

// PullGate is a policy consulted before a manifest is served: the
// vulnerability gate and signature policies implement it. CheckPull runs
// for every manifest GET and HEAD that finds a manifest (stored, cached
// or proxied), so it must be cheap: one indexed lookup at most. A refusal
// returns an error wrapping ErrDenied whose text tells the client which
// rule was not met. The caller's identity is in ctx
// (auth.SubjectFromContext).
type PullGate interface {
	CheckPull(ctx context.Context, repo string, m *meta.Manifest) error
}

// checkPull asks every gate in order; the first refusal wins.
func (s *Service) checkPull(ctx context.Context, repo string, m *meta.Manifest) error {
	for _, g := range s.opts.PullGates {
		if err := g.CheckPull(ctx, repo, m); err != nil {
			return err
		}
	}
	return nil
}
