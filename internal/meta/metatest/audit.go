package metatest

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func testAudit(t *testing.T, s meta.Store) {
	t0 := time.Date(2026, 7, 20, 14, 30, 0, 0, time.UTC)
	events := []meta.AuditEvent{
		{Time: t0, Action: "push", User: "alice", Repository: "team/app", Reference: "v1", Digest: "sha256:aa",
			Status: "success", HTTPStatus: 201, Duration: 125 * time.Millisecond, ClientIP: "10.0.0.1", RequestID: "r1"},
		{Time: t0.Add(time.Minute), Action: "pull", User: "bob", Repository: "team/app", Reference: "v1",
			Status: "success", HTTPStatus: 200, RequestID: "r2"},
		{Time: t0.Add(2 * time.Minute), Action: "pull", User: "", Repository: "other/x", Reference: "latest",
			Status: "failure", HTTPStatus: 401, RequestID: "r3"},
	}
	if err := s.AppendAudit(ctx, events[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, events[1:]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ids := func(f meta.AuditFilter) []string {
		t.Helper()
		got, err := s.AuditEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.RequestID)
		}
		return out
	}
	all, err := s.AuditEvents(ctx, meta.AuditFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("all events: %v %v", all, err)
	}
	first := all[2]
	first.ID = 0
	if first != events[0] {
		t.Errorf("stored event\n%+v\nwant\n%+v", first, events[0])
	}
	for _, tc := range []struct {
		name string
		f    meta.AuditFilter
		want []string
	}{
		{"all, newest first", meta.AuditFilter{}, []string{"r3", "r2", "r1"}},
		{"user", meta.AuditFilter{User: "bob"}, []string{"r2"}},
		{"action", meta.AuditFilter{Action: "pull"}, []string{"r3", "r2"}},
		{"repository", meta.AuditFilter{Repository: "team/app"}, []string{"r2", "r1"}},
		{"since", meta.AuditFilter{Since: t0.Add(time.Minute)}, []string{"r3", "r2"}},
		{"until", meta.AuditFilter{Until: t0.Add(time.Minute)}, []string{"r1"}},
		{"limit", meta.AuditFilter{Limit: 1}, []string{"r3"}},
		{"before", meta.AuditFilter{Before: all[0].ID, Limit: 1}, []string{"r2"}},
		{"combined", meta.AuditFilter{Action: "pull", Repository: "team/app", User: "bob"}, []string{"r2"}},
		{"nothing", meta.AuditFilter{User: "carol"}, nil},
	} {
		if got := ids(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	n, err := s.PurgeAudit(ctx, t0.Add(90*time.Second))
	if err != nil || n != 2 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if got := ids(meta.AuditFilter{}); !slices.Equal(got, []string{"r3"}) {
		t.Errorf("after purge: %v", got)
	}
}
