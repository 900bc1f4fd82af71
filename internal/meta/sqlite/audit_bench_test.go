package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// BenchmarkAppendAudit measures storing audit events in batches of 1024,
// as the audit writer does under load.
func BenchmarkAppendAudit(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	batch := make([]meta.AuditEvent, 1024)
	for i := range batch {
		batch[i] = meta.AuditEvent{Time: time.Now(), Action: "pull", User: "ci-bot", Repository: "team/app",
			Reference: "v1.2.3", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			Status: "success", HTTPStatus: 200, Duration: time.Millisecond, ClientIP: "10.0.0.1", RequestID: "0123456789abcdef"}
	}
	b.ResetTimer()
	for range b.N {
		if err := s.AppendAudit(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
}
