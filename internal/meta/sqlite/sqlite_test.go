package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/metatest"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

func TestStore(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndMigrationsOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "berth.db")
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.PutBlob(ctx, "r", meta.Blob{Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000", Size: 1})
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if ok, _ := s.RepositoryExists(ctx, "r"); !ok {
		t.Fatal("data lost on reopen")
	}
}

// TestLazyCommitsLeaveSyncOn: after the bookkeeping writes that commit
// lazily, the writer connection is back to synchronous=FULL.
func TestLazyCommitsLeaveSyncOn(t *testing.T) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u", Repository: "r", Algorithm: "sha256"}); err != nil {
		t.Fatal(err)
	}
	if got := sqlite.WriterSynchronous(t, s); got != 2 { // 2 = FULL
		t.Fatalf("synchronous = %d after a lazy commit, want 2 (FULL)", got)
	}
}
