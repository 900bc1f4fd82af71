package app

import (
	"context"
	"encoding/json"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/policy"
)

// RunRetention runs a project's retention policy once against this
// instance's stores (berth retention run).
func (a *App) RunRetention(ctx context.Context, project string, dryRun bool) (*policy.RunResult, error) {
	return a.retain.Run(ctx, project, policy.RunOptions{DryRun: dryRun, Trigger: policy.TriggerCLI})
}

// policyJobs are the background jobs of the project policies: "retention"
// looks every policy.retention_check for retention policies whose
// schedule is due, and runs them (on one instance at a time).
func (a *App) policyJobs() []jobs.Job {
	if a.cfg.Policy.RetentionCheck <= 0 {
		return nil
	}
	return []jobs.Job{{
		Name:     "retention",
		Interval: a.cfg.Policy.RetentionCheck,
		Run: func(ctx context.Context, _ *jobs.Run) (string, error) {
			rep, err := a.retain.RunDue(ctx)
			if rep == nil {
				return "", err
			}
			report, jerr := json.Marshal(rep)
			if jerr != nil {
				return "", jerr
			}
			return string(report), err
		},
	}}
}
