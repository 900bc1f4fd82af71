package audit

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

func TestPullModes(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 30, 0, time.UTC)
	pull := func(at time.Duration, user, ref string, status int) meta.AuditEvent {
		res := "success"
		if status >= 400 {
			res = "failure"
		}
		return meta.AuditEvent{Time: t0.Add(at), Action: "pull", User: user, Repository: "team/app", Reference: ref,
			Digest: "sha256:aa", Status: res, HTTPStatus: status, Duration: 10 * time.Millisecond, ClientIP: "10.0.0.1", RequestID: "r"}
	}
	events := []meta.AuditEvent{
		pull(0, "ann", "v1", 200),
		pull(time.Second, "ann", "v1", 200),
		pull(2*time.Second, "ann", "v1", 304),
		pull(3*time.Second, "bob", "v1", 200),         // another user
		pull(40*time.Second, "ann", "v1", 200),        // the next minute
		pull(4*time.Second, "ann", "missing", 404),    // refused: in full
		{Time: t0, Action: "push", Status: "success"}, // not a pull: in full
	}
	tests := []struct {
		mode       string
		queued     int     // events in the queue at once
		aggregates []int64 // Requests of the aggregates of the first minute
		later      int     // aggregates left for the next minute
	}{
		{PullsFull, 7, nil, 0},
		{"", 7, nil, 0},
		{PullsOff, 2, nil, 0},
		{PullsAggregate, 2, []int64{3, 1}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			l, err := New(nil, Config{Buffer: 100, Pulls: tc.mode}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				l.Record(e)
			}
			if len(l.events) != tc.queued {
				t.Fatalf("%d queued, want %d", len(l.events), tc.queued)
			}
			// During the first minute nothing is written; once it is over,
			// its aggregates are, and the next minute's wait.
			if got := l.pulls.take(t0, false); len(got) != 0 {
				t.Fatalf("written during the minute: %+v", got)
			}
			got := l.pulls.take(t0.Add(30*time.Second), false)
			if len(got) != len(tc.aggregates) {
				t.Fatalf("%d aggregates, want %d: %+v", len(got), len(tc.aggregates), got)
			}
			for _, e := range got {
				n := int64(1)
				if e.User == "ann" {
					n = 3
					if e.HTTPStatus != 304 && e.HTTPStatus != 200 {
						t.Errorf("status %d", e.HTTPStatus)
					}
				}
				if e.Requests != n || !e.Time.Equal(t0.Truncate(time.Minute)) || e.Duration != 10*time.Millisecond ||
					e.RequestID != "" || e.Status != "success" || e.ClientIP != "10.0.0.1" || e.Reference != "v1" {
					t.Errorf("aggregate %+v", e)
				}
			}
			if rest := l.pulls.take(t0, true); len(rest) != tc.later {
				t.Fatalf("%d left, want %d", len(rest), tc.later)
			}
		})
	}
	if _, err := New(nil, Config{Pulls: "sampled"}, nil); err == nil {
		t.Fatal("an unknown mode was accepted")
	}
}

// TestPullAggregatesBounded: past maxPullKeys aggregates, the writer is
// told to write them all.
func TestPullAggregatesBounded(t *testing.T) {
	l, err := New(nil, Config{Buffer: 10, Pulls: PullsAggregate}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxPullKeys {
		if len(l.flush) != 0 {
			t.Fatalf("flush asked for after %d aggregates", i)
		}
		l.Record(meta.AuditEvent{Time: time.Now(), Action: "pull", Status: "success", HTTPStatus: 200, Reference: string(rune('a'+i%26)) + string(rune(i))})
	}
	if len(l.flush) != 1 {
		t.Fatal("no flush asked for at the bound")
	}
}
