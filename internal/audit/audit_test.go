package audit_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestLogWritesDatabaseAndFile(t *testing.T) {
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	out := filepath.Join(dir, "audit.log")
	l, err := audit.New(store, audit.Config{Output: out, Buffer: 1000}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go l.Run(ctx)
	t0 := time.Date(2026, 7, 20, 14, 30, 45, 0, time.UTC)
	for i, ref := range []string{"v1.2", "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"} {
		l.Record(meta.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second), Action: "pull", User: "dev_team",
			Repository: "app/service", Reference: ref, Digest: "sha256:aa", Status: "success", HTTPStatus: 200,
			Duration: 125 * time.Millisecond, ClientIP: "10.1.2.3", RequestID: "req"})
	}
	cancel()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if l.Written() != 2 || l.Dropped() != 0 {
		t.Fatalf("written %d dropped %d", l.Written(), l.Dropped())
	}
	got, err := store.AuditEvents(context.Background(), meta.AuditFilter{User: "dev_team"})
	if err != nil || len(got) != 2 {
		t.Fatalf("stored: %v %v", got, err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	want := map[string]any{"timestamp": "2026-07-20T14:30:45Z", "action": "pull", "user": "dev_team",
		"image": "app/service:v1.2", "digest": "sha256:aa", "status": "success", "duration_ms": 125.0,
		"client_ip": "10.1.2.3", "request_id": "req"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %v, want %v", k, lines[0][k], v)
		}
	}
	if img := lines[1]["image"]; img != "app/service@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image by digest: %v", img)
	}
}

// A full queue drops events instead of blocking the request.
func TestRecordNeverBlocks(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l, err := audit.New(store, audit.Config{Buffer: 2}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 { // Run is not running: nothing drains
		l.Record(meta.AuditEvent{Action: "pull", Status: "success"})
	}
	if l.Dropped() != 3 {
		t.Errorf("dropped %d, want 3", l.Dropped())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Run(ctx) // writes the two queued events and returns
	if l.Written() != 2 {
		t.Errorf("written %d, want 2", l.Written())
	}
}

func TestRetentionPurges(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	old := meta.AuditEvent{Time: time.Now().Add(-48 * time.Hour), Action: "push", Status: "success", RequestID: "old"}
	recent := meta.AuditEvent{Time: time.Now(), Action: "push", Status: "success", RequestID: "new"}
	if err := store.AppendAudit(context.Background(), []meta.AuditEvent{old, recent}); err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(store, audit.Config{Retention: 24 * time.Hour, Buffer: 10}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Run(ctx) // purges at start
	got, _ := store.AuditEvents(context.Background(), meta.AuditFilter{})
	if len(got) != 1 || got[0].RequestID != "new" {
		t.Errorf("after purge: %+v", got)
	}
}
