package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/scantest"
	"github.com/berth-registry/berth/internal/scan/vulndb"
)

// BenchmarkRescan1000 measures a rescan after a database update: 1,000
// stored package lists of 500 packages each (Debian and npm) matched
// against 4,000 advisories, with every result written to SQLite, 2 at a
// time as scan.concurrency's default. Target: under 30 s.
func BenchmarkRescan1000(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var advs []vulndb.Advisory
	for i := range 2000 {
		for _, a := range []scantest.Advisory{
			{ID: fmt.Sprintf("DEB-%d", i), Ecosystem: "Debian:12", Name: fmt.Sprintf("lib%d", i), Fixed: "1:1.0-2~deb12u1", Severity: "HIGH"},
			{ID: fmt.Sprintf("GHSA-%d", i), Ecosystem: "npm", Name: fmt.Sprintf("pkg%d", i), Introduced: "1.0.0", Fixed: "1.2.0", Severity: "MODERATE"},
		} {
			d, err := vulndb.Decode(a.JSON())
			if err != nil {
				b.Fatal(err)
			}
			advs = append(advs, d)
		}
	}
	ix := vulndb.NewIndex("sha256:bench", time.Now(), advs)
	for img := range 1000 {
		pkgs := make([]scan.Package, 0, 500)
		for j := range 250 {
			n := (img*7 + j*13) % 4000
			pkgs = append(pkgs, scan.Package{Ecosystem: "Debian:12", Name: fmt.Sprintf("lib%d", n), Version: "1:1.0-1"},
				scan.Package{Ecosystem: "npm", Name: fmt.Sprintf("pkg%d", n), Version: "1.1.0"})
		}
		data, _ := json.Marshal(pkgs)
		if err := store.PutScanPackages(ctx, meta.ScanPackages{Digest: digest.FromString(fmt.Sprint(img)), Extractor: "bench", ExtractedAt: time.Now(), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	svc := scan.New(store, nil, nil, scan.Options{}, nil)
	svc.SetDatabase(&scan.Database{Matcher: ix, Version: ix.Version})
	b.ResetTimer()
	for range b.N {
		rep, err := svc.RescanAll(ctx, scan.Run{Save: func(context.Context, string) error { return nil }}, 2)
		if err != nil || rep != `{"scanned":1000,"failed":0}` {
			b.Fatalf("RescanAll = %s, %v", rep, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/rescan")
}
