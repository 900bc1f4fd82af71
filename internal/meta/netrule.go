package meta

import (
	"context"
	"time"
)

// NetworkRule lists the source networks (CIDRs) a scope may pull and
// push from; an empty list allows any address. Scope is "project:NAME"
// or "robot:NAME".
type NetworkRule struct {
	Scope     string
	Pull      []string
	Push      []string
	UpdatedAt time.Time
}

// NetworkRuleStore keeps the network rules of projects and robots.
type NetworkRuleStore interface {
	// NetworkRules lists every rule by scope.
	NetworkRules(ctx context.Context) ([]NetworkRule, error)
	// PutNetworkRule creates or replaces the rule of r.Scope.
	PutNetworkRule(ctx context.Context, r NetworkRule) error
	// DeleteNetworkRule removes a scope's rule; no error when there is none.
	DeleteNetworkRule(ctx context.Context, scope string) error
}
