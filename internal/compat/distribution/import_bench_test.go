package distribution_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/compat/distribution/layouttest"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkImport imports a generated Distribution filesystem layout into
// a fresh SQLite database per iteration. The figure (100,000
// manifests in 10,000 repositories, target under 5 minutes):
//
//	BERTH_IMPORT_BENCH_REPOS=10000 BERTH_IMPORT_BENCH_PER_REPO=10 \
//	  go test -run '^$' -bench BenchmarkImport -benchtime 1x -timeout 60m ./internal/compat/distribution/
//
// BERTH_IMPORT_BENCH_DIR keeps the generated layout there between runs
// (it takes minutes to write and some GB of small files).
func BenchmarkImport(b *testing.B) {
	repos, per := envInt("BERTH_IMPORT_BENCH_REPOS", 100), envInt("BERTH_IMPORT_BENCH_PER_REPO", 10)
	root := os.Getenv("BERTH_IMPORT_BENCH_DIR")
	if root == "" {
		root = b.TempDir()
	}
	marker := filepath.Join(root, "generated-"+strconv.Itoa(repos)+"x"+strconv.Itoa(per))
	if _, err := os.Stat(marker); err != nil {
		start := time.Now()
		if err := (&layouttest.Layout{Root: root}).Generate(repos, per); err != nil {
			b.Fatal(err)
		}
		os.WriteFile(marker, nil, 0o644)
		b.Logf("generated %d repositories x %d manifests in %s", repos, per, time.Since(start).Round(time.Millisecond))
	}
	d, err := filesystem.New(root)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		rep, err := distribution.NewImporter(distribution.NewSource(d), store, distribution.Options{}).Run(ctx)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		store.Close()
		if rep.Manifests != repos*per || rep.Tags != repos*per || rep.Dangling != 0 {
			b.Fatalf("report %+v", rep)
		}
		b.ReportMetric(float64(rep.Manifests)/el.Seconds(), "manifests/s")
		b.StartTimer()
	}
}
