package app

import (
	"context"

	"github.com/berth-registry/berth/internal/policy"
)

// RunRetention runs a project's retention policy once against this
// instance's stores (berth retention run).
func (a *App) RunRetention(ctx context.Context, project string, dryRun bool) (*policy.RunResult, error) {
	return a.retain.Run(ctx, project, policy.RunOptions{DryRun: dryRun, Trigger: policy.TriggerCLI})
}
