package metatest

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// testAnomaly: the detector's reads of the audit log, its profiles, cursor
// and findings.
func testAnomaly(t *testing.T, s meta.Store) {
	t0 := time.Date(2026, 7, 20, 14, 0, 0, 0, time.UTC)
	var events []meta.AuditEvent
	for i, action := range []string{"pull", "push", "pull", "login", "pull"} {
		events = append(events, meta.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Action: action,
			User: "alice", Repository: "team/app", Status: "success", HTTPStatus: 200 + i, ClientIP: "10.0.0.1",
			RequestID: action + string(rune('0'+i))})
	}
	if err := s.AppendAudit(ctx, events); err != nil {
		t.Fatal(err)
	}
	all, err := s.AuditEvents(ctx, meta.AuditFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("audit events: %v %v", all, err)
	}
	first := all[4].ID // newest first
	reqs := func(es []meta.AuditEvent) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.RequestID)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		after    int64
		limit    int
		want     []string
		wantLast int64
	}{
		{"all", 0, 100, []string{"pull0", "pull2", "pull4"}, all[0].ID},
		{"first three rows", 0, 3, []string{"pull0", "pull2"}, first + 2},
		{"after the third", first + 2, 100, []string{"pull4"}, all[0].ID},
		{"only non-pulls", first, 1, nil, first + 1},
		{"nothing after the end", all[0].ID, 10, nil, all[0].ID},
	} {
		got, last, err := s.PullEventsAfter(ctx, tc.after, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(reqs(got), tc.want) || last != tc.wantLast {
			t.Errorf("%s: %v last %d, want %v last %d", tc.name, reqs(got), last, tc.want, tc.wantLast)
		}
		for _, e := range got {
			if e.Action != "pull" || e.User != "alice" || e.ClientIP != "10.0.0.1" || e.Time.IsZero() || e.HTTPStatus < 200 {
				t.Errorf("%s: event %+v", tc.name, e)
			}
		}
	}

	if c, err := s.AnomalyCursor(ctx); err != nil || c != 0 {
		t.Fatalf("fresh cursor: %d %v", c, err)
	}
	if got, err := s.AnomalyProfiles(ctx, []string{"user:alice"}); err != nil || len(got) != 0 {
		t.Fatalf("no profiles yet: %v %v", got, err)
	}
	findings := []meta.AnomalyFinding{
		{Time: t0, Kind: "burst", Identity: "user:alice", Repository: "team/app", ClientIP: "10.0.0.1", Reason: "r1", EventID: first},
		{Time: t0.Add(time.Hour), Kind: "new_network", Identity: "user:alice", ClientIP: "192.0.2.7", Reason: "r2", EventID: first + 2},
		{Time: t0.Add(2 * time.Hour), Kind: "burst", Identity: "addr:10.9.9.9", Reason: "r3"},
	}
	if err := s.SaveAnomalyBatch(ctx, meta.AnomalyBatch{Cursor: first + 2,
		Profiles: []meta.AnomalyProfile{{Key: "user:alice", Data: []byte("v1")}, {Key: "repo:team/app", Data: []byte("r")}},
		Findings: findings[:2]}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAnomalyBatch(ctx, meta.AnomalyBatch{Cursor: all[0].ID,
		Profiles: []meta.AnomalyProfile{{Key: "user:alice", Data: []byte("v2")}}, Findings: findings[2:]}); err != nil {
		t.Fatal(err)
	}
	if c, err := s.AnomalyCursor(ctx); err != nil || c != all[0].ID {
		t.Fatalf("cursor: %d %v, want %d", c, err, all[0].ID)
	}
	got, err := s.AnomalyProfiles(ctx, []string{"user:alice", "repo:team/app", "user:nobody"})
	if err != nil || len(got) != 2 || string(got["user:alice"].Data) != "v2" || string(got["repo:team/app"].Data) != "r" {
		t.Fatalf("profiles: %v %v", got, err)
	}

	stored, err := s.AnomalyFindings(ctx, meta.AnomalyFilter{})
	if err != nil || len(stored) != 3 {
		t.Fatalf("findings: %v %v", stored, err)
	}
	f0 := stored[2]
	f0.ID = 0
	if f0 != findings[0] || !f0.Time.Equal(t0) {
		t.Errorf("stored finding\n%+v\nwant\n%+v", f0, findings[0])
	}
	reasons := func(f meta.AnomalyFilter) []string {
		t.Helper()
		got, err := s.AnomalyFindings(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.Reason)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    meta.AnomalyFilter
		want []string
	}{
		{"all, newest first", meta.AnomalyFilter{}, []string{"r3", "r2", "r1"}},
		{"identity", meta.AnomalyFilter{Identity: "user:alice"}, []string{"r2", "r1"}},
		{"kind", meta.AnomalyFilter{Kind: "burst"}, []string{"r3", "r1"}},
		{"since", meta.AnomalyFilter{Since: t0.Add(time.Hour)}, []string{"r3", "r2"}},
		{"identity and kind", meta.AnomalyFilter{Identity: "user:alice", Kind: "burst"}, []string{"r1"}},
		{"limit", meta.AnomalyFilter{Limit: 1}, []string{"r3"}},
		{"before", meta.AnomalyFilter{Before: stored[0].ID, Limit: 1}, []string{"r2"}},
		{"nothing", meta.AnomalyFilter{Kind: "off_hours"}, nil},
	} {
		if got := reasons(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
