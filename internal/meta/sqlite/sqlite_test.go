package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/metatest"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

// openStore opens a new store in a temporary directory, closed at the end
// of the test.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

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
	s := openStore(t)
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u", Repository: "r", Algorithm: "sha256"}); err != nil {
		t.Fatal(err)
	}
	if got := sqlite.WriterSynchronous(t, s); got != 2 { // 2 = FULL
		t.Fatalf("synchronous = %d after a lazy commit, want 2 (FULL)", got)
	}
}

// TestWriterStatementsPrepared: the writes a push makes are prepared once
// on the writer and reused, and give the same results prepared or not.
func TestWriterStatementsPrepared(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	push := func(i int) {
		t.Helper()
		d := digest.FromString(fmt.Sprint(i))
		if err := s.PutBlob(ctx, "r", meta.Blob{Digest: d, Size: int64(i)}); err != nil {
			t.Fatal(err)
		}
		if b, err := s.Blob(ctx, "r", d); err != nil || b.Size != int64(i) {
			t.Fatalf("blob %d: %+v %v", i, b, err)
		}
	}
	push(0) // runs unprepared and starts preparing in the background
	var n int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if n = sqlite.PreparedWrites(s); n >= 3 { // INSERT blob, INSERT repository, SELECT id, INSERT link
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writer statements prepared after the first push, want >= 3", n)
		}
	}
	for i := 1; i < 50; i++ {
		push(i)
	}
	if got := sqlite.PreparedWrites(s); got != n {
		t.Fatalf("prepared statements grew from %d to %d on repeating the same writes", n, got)
	}
}
