package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// BenchmarkPushImage measures the metadata writes of one small image's push
// as the registry makes them: for each of 4 blobs an upload session created
// and completed, then the manifest with its tag. The database is in the
// test's temp dir: TMPDIR=/dev/shm measures it without a disk's fsyncs.
func BenchmarkPushImage(b *testing.B) {
	dir := b.TempDir()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	state := make([]byte, 108)
	b.ResetTimer()
	for i := range b.N {
		repo := fmt.Sprintf("bench/r%d", i%50)
		var blobs []digest.Digest
		for j := range 4 {
			d := digest.FromString(fmt.Sprintf("%d-%d", i, j))
			u := meta.Upload{ID: fmt.Sprintf("u-%d-%d", i, j), Repository: repo, Algorithm: digest.SHA256, HashState: state}
			if err := s.CreateUpload(ctx, u); err != nil {
				b.Fatal(err)
			}
			if err := s.CompleteUpload(ctx, u, meta.Blob{Digest: d, Size: 10240}); err != nil {
				b.Fatal(err)
			}
			blobs = append(blobs, d)
		}
		content := []byte(fmt.Sprintf(`{"schemaVersion":2,"n":%d}`, i))
		m := &meta.Manifest{Repository: repo, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
			ArtifactType: "application/vnd.oci.image.config.v1+json", Content: content, Blobs: blobs}
		if err := s.PutManifest(ctx, m, []string{fmt.Sprintf("t%d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/image")
}
