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

// BenchmarkManifestSizeCheck compares, in one run, the two ways a push of
// a manifest with 4 blobs checks the sizes its descriptors declare:
// "reads" is how it was done before issue #20 (one BlobOrManifest read per
// descriptor, then PutManifest), "in-tx" passes Manifest.Sizes and lets
// the push's transaction compare them with the read that finds each blob.
// The blobs are recorded once, before the timer: only the manifest push
// is measured.
func BenchmarkManifestSizeCheck(b *testing.B) {
	for _, mode := range []string{"reads", "in-tx"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			const repo = "bench/app"
			var blobs []digest.Digest
			sizes := map[digest.Digest]int64{}
			for j := range 4 {
				d := digest.FromString(fmt.Sprint(j))
				if err := s.PutBlob(ctx, repo, meta.Blob{Digest: d, Size: 10240}); err != nil {
					b.Fatal(err)
				}
				blobs, sizes[d] = append(blobs, d), 10240
			}
			b.ResetTimer()
			for i := range b.N {
				content := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d}`, i)
				m := &meta.Manifest{Repository: repo, Digest: digest.FromBytes(content), MediaType: "application/vnd.oci.image.manifest.v1+json",
					Content: content, Blobs: blobs}
				if mode == "reads" {
					for d, want := range sizes {
						if got, _, err := s.BlobOrManifest(ctx, repo, d); err != nil || got.Size != want {
							b.Fatal(got, err)
						}
					}
				} else {
					m.Sizes = sizes
				}
				if err := s.PutManifest(ctx, m, []string{fmt.Sprintf("t%d", i%20)}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
