package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/policy"
)

// TestRetentionJob: the scheduled retention job is registered with the
// job scheduler, and looks at the scheduled policies when it runs.
func TestRetentionJob(t *testing.T) {
	ctx := context.Background()
	cfg, err := config.Load("", nil, config.Overrides{Data: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.policy.SetRetentionPolicy(ctx, "team", &policy.RetentionPolicy{Rules: []policy.Rule{{Keep: policy.KeepAlways}}, Schedule: "@daily"}); err != nil {
		t.Fatal(err)
	}
	report, err := a.jobs.RunNow(ctx, "retention", "")
	if err != nil || report != `{"policies":1,"ran":[]}` {
		t.Fatalf("retention job = %s, %v", report, err)
	}

	cfg.Policy.RetentionCheck = 0
	off, err := New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer off.Close()
	if _, err := off.jobs.RunNow(ctx, "retention", ""); err == nil {
		t.Fatal("retention job registered with policy.retention_check 0")
	}
}
