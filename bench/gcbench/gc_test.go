// Package gcbench measures garbage collection on the filesystem driver
// with the SQLite store: GC_BENCH_BLOBS unreferenced blobs (default 2000;
// the figure is 100000) and GC_BENCH_MANIFESTS untagged manifests
// (default 200; the figure is 10000), reported as items per second.
//
//	GC_BENCH_BLOBS=100000 GC_BENCH_MANIFESTS=10000 go test -run '^$' -bench . -benchtime 1x ./bench/gcbench/
//
// Setting up the large size takes long (one synced transaction per item).
package gcbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

func size(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func BenchmarkGC(b *testing.B) {
	nBlobs, nManifests := size("GC_BENCH_BLOBS", 2000), size("GC_BENCH_MANIFESTS", 200)
	ctx := context.Background()
	for range b.N {
		b.StopTimer()
		dir := b.TempDir()
		store, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
		if err != nil {
			b.Fatal(err)
		}
		driver, _ := filesystem.New(filepath.Join(dir, "blobs"))
		blobs := storage.NewBlobs(driver)
		for i := range nBlobs {
			content := fmt.Appendf(nil, "blob %d", i)
			d := digest.FromBytes(content)
			if err := driver.PutContent(ctx, storage.BlobPath(d), content); err != nil {
				b.Fatal(err)
			}
			if err := store.PutBlob(ctx, "bench/r", meta.Blob{Digest: d, Size: int64(len(content))}); err != nil {
				b.Fatal(err)
			}
		}
		for i := range nManifests {
			body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d}`, i)
			m := &meta.Manifest{Repository: "bench/r", Digest: digest.FromBytes(body),
				MediaType: "application/vnd.oci.image.manifest.v1+json", Content: body}
			if err := store.PutManifest(ctx, m, nil); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(10 * time.Millisecond) // everything is older than the (zero) grace period
		c := gc.New(store, blobs, gc.Options{BatchSize: 1000, Parallelism: 8, UploadMaxAge: time.Hour}, nil)
		b.StartTimer()
		start := time.Now()
		rep, err := c.Run(ctx, false, "", nil)
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil || rep.Blobs != int64(nBlobs) || rep.Manifests != int64(nManifests) {
			b.Fatalf("report %+v, %v", rep, err)
		}
		items := float64(rep.Blobs + rep.Links + rep.Manifests)
		b.ReportMetric(items/elapsed.Seconds(), "items/s")
		b.ReportMetric(float64(rep.Blobs)/elapsed.Seconds(), "blobs/s")
		store.Close()
		b.StartTimer()
	}
}
