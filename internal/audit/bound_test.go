package audit_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// Issue 13, finding 1: every text field is cut to its bound, and the
// queue is bounded by bytes as well as by count.
func TestRecordBoundsFieldsAndQueueBytes(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const maxBytes = 64 << 10
	l, err := audit.New(store, audit.Config{Buffer: 100000, BufferBytes: maxBytes}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("u", 700000)
	for range 600 { // Run is not running: nothing drains
		l.Record(meta.AuditEvent{Action: huge, User: huge, Repository: huge, Reference: huge, Digest: huge,
			Status: huge, ClientIP: huge, RequestID: huge})
		if q := l.QueuedBytes(); q > maxBytes {
			t.Fatalf("queue holds %d bytes, over its bound %d", q, maxBytes)
		}
	}
	if l.Dropped() == 0 {
		t.Errorf("nothing dropped: the byte bound did not apply")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Run(ctx) // writes what is queued and returns
	if l.QueuedBytes() != 0 {
		t.Errorf("%d bytes still counted after the queue drained", l.QueuedBytes())
	}
	got, err := store.AuditEvents(context.Background(), meta.AuditFilter{Limit: 1000})
	if err != nil || len(got) == 0 || int64(len(got)) != l.Written() {
		t.Fatalf("stored %d events (written %d): %v", len(got), l.Written(), err)
	}
	for _, e := range got {
		if len(e.User) > audit.MaxUser || len(e.Reference) > audit.MaxReference || len(e.Action) > audit.MaxAction ||
			len(e.Repository) > audit.MaxRepository || len(e.ClientIP) > audit.MaxClientIP || len(e.RequestID) > audit.MaxRequestID {
			t.Fatalf("stored an unbounded field: user %d, reference %d bytes", len(e.User), len(e.Reference))
		}
	}
}

func TestBoundKeepsUTF8(t *testing.T) {
	e := audit.Bound(meta.AuditEvent{User: strings.Repeat("é", audit.MaxUser)}) // 2 bytes each
	if len(e.User) > audit.MaxUser || !utf8.ValidString(e.User) {
		t.Errorf("cut user: %d bytes, valid UTF-8 %v", len(e.User), utf8.ValidString(e.User))
	}
	short := meta.AuditEvent{User: "alice", Reference: "v1"}
	if audit.Bound(short) != short {
		t.Errorf("short fields changed")
	}
}
