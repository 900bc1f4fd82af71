package metatest

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var snapshotTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"SnapshotListsItsBlobs", testSnapshotBlobs},
	{"SnapshotWhileWriting", testSnapshotWhileWriting},
}

// testSnapshotBlobs: a snapshot lists every blob once, in digest order,
// and writes its file.
func testSnapshotBlobs(t *testing.T, s meta.Store) {
	var want []digest.Digest
	for _, c := range []string{"one", "two", "three"} {
		want = append(want, mustPutBlob(t, s, "a/x", c))
	}
	mustPutBlob(t, s, "b/y", "one") // linked twice, listed once
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u1", Repository: "a/x", Algorithm: digest.SHA256}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	dir := t.TempDir()
	var got []digest.Digest
	info, err := s.Snapshot(ctx, dir, func(b meta.SnapshotBlob) error {
		got = append(got, b.Digest)
		if b.Size <= 0 {
			t.Errorf("blob %s: size %d", b.Digest, b.Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("snapshot blobs %v, want %v", got, want)
	}
	if info.File == "" || (info.Format != "sqlite" && info.Format != "pg_dump") {
		t.Fatalf("snapshot info %+v", info)
	}
	if fi, err := os.Stat(filepath.Join(dir, info.File)); err != nil || fi.Size() == 0 {
		t.Fatalf("snapshot file: %v", err)
	}
	// The store keeps serving and its upload session is untouched.
	if _, err := s.Upload(ctx, "a/x", "u1"); err != nil {
		t.Fatalf("upload session after a snapshot: %v", err)
	}
}

// testSnapshotWhileWriting: pushes go on during a snapshot, and the blob
// list is a consistent prefix-free set: each blob is listed at most once
// and every blob stored before the snapshot started is in it.
func testSnapshotWhileWriting(t *testing.T, s meta.Store) {
	var before []digest.Digest
	for i := range 50 {
		before = append(before, mustPutBlob(t, s, "w/r", "before-"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := digest.FromString("during-" + string(rune(i)))
			if err := s.PutBlob(ctx, "w/r", meta.Blob{Digest: d, Size: 7}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	seen := map[digest.Digest]bool{}
	_, err := s.Snapshot(ctx, t.TempDir(), func(b meta.SnapshotBlob) error {
		if seen[b.Digest] {
			t.Errorf("blob %s listed twice", b.Digest)
		}
		seen[b.Digest] = true
		return nil
	})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range before {
		if !seen[d] {
			t.Fatalf("blob %s stored before the snapshot is missing from it", d)
		}
	}
}
