package postgres_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
)

// TestSnapshotRestore: a pg_dump snapshot restores into an empty database
// with its manifests and tags, without upload sessions or leases, and
// refuses a database that already holds Berth's tables.
func TestSnapshotRestore(t *testing.T) {
	src := open(t, pgtest.Start(t))
	layer := digest.FromString("layer")
	if err := src.PutBlob(ctx, "a/b", meta.Blob{Digest: layer, Size: 5}); err != nil {
		t.Fatal(err)
	}
	body := `{"schemaVersion":2,"layers":[{"digest":"` + layer.String() + `"}]}`
	m := &meta.Manifest{Repository: "a/b", Digest: digest.FromString(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte(body), Blobs: []digest.Digest{layer}}
	if err := src.PutManifest(ctx, m, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateUpload(ctx, meta.Upload{ID: "u1", Repository: "a/b", Algorithm: digest.SHA256}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.AcquireJob(ctx, "gc", "someone", time.Hour); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	info, err := src.Snapshot(ctx, dir, func(meta.SnapshotBlob) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	dsn := pgtest.Start(t)
	if err := postgres.RestoreSnapshot(ctx, dsn, filepath.Join(dir, info.File)); err != nil {
		t.Fatal(err)
	}
	dst := open(t, dsn)
	if d, err := dst.ResolveTag(ctx, "a/b", "v1"); err != nil || d != m.Digest {
		t.Fatalf("restored tag: %s, %v", d, err)
	}
	if got, err := dst.Manifest(ctx, "a/b", m.Digest); err != nil || string(got.Content) != body {
		t.Fatalf("restored manifest: %v", err)
	}
	if _, err := dst.Upload(ctx, "a/b", "u1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("upload session restored: %v", err)
	}
	if _, err := dst.AcquireJob(ctx, "gc", "me", time.Minute); err != nil {
		t.Fatalf("a lease survived the restore: %v", err)
	}
	// Pushes work in the restored database (sequences restored too).
	if err := dst.PutBlob(ctx, "c/d", meta.Blob{Digest: digest.FromString("new"), Size: 3}); err != nil {
		t.Fatal(err)
	}
	if err := postgres.RestoreSnapshot(ctx, dsn, filepath.Join(dir, info.File)); err == nil || !strings.Contains(err.Error(), "empty database") {
		t.Fatalf("restore over a Berth database: %v", err)
	}
}
