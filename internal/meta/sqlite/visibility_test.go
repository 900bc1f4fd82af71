package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// TestReadYourWrites: a row committed by one call is visible to the next
// call at once, whichever pooled connection serves it.
func TestReadYourWrites(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id := fmt.Sprintf("u-%d-%d", w, i)
				repo := fmt.Sprintf("r%d", w)
				if _, err := s.Blob(ctx, repo, digest.FromString(id)); err == nil {
					t.Error("unexpected blob")
				}
				if err := s.CreateUpload(ctx, meta.Upload{ID: id, Repository: repo, Algorithm: digest.SHA256}); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.Upload(ctx, repo, id); err != nil {
					t.Errorf("upload %s not visible right after it was created: %v", id, err)
					return
				}
				if err := s.CompleteUpload(ctx, meta.Upload{ID: id, Repository: repo}, meta.Blob{Digest: digest.FromString(id), Size: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
