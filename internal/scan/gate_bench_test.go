package scan_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/scan"
)

// BenchmarkGate measures the gate's cost per pull of a scanned image
// with a gating policy (the result and policy cached, as for a hot
// image): what a manifest GET pays on top of serving the manifest.
func BenchmarkGate(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := scan.New(store, nil, nil, scan.Options{}, nil)
	if err := svc.SetPolicy(ctx, "team", &scan.Policy{PreventSeverity: scan.SeverityCritical}); err != nil {
		b.Fatal(err)
	}
	m := &meta.Manifest{Repository: "team/app", Digest: digest.FromString("img"), MediaType: v1.MediaTypeImageManifest}
	summary := []byte(`[{"i":"CVE-1","s":"high","c":7.5,"p":"openssl","v":"3.0.1"},{"i":"CVE-2","s":"low","p":"zlib","v":"1.2"}]`)
	if err := store.PutScanResult(ctx, meta.ScanResult{Digest: m.Digest, Scanner: "builtin", Status: "success", ScannedAt: time.Now(), Summary: summary}); err != nil {
		b.Fatal(err)
	}
	g := svc.Gate()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := g.CheckPull(ctx, "team/app", m); err != nil {
			b.Fatal(err)
		}
	}
}
