package storage_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

// TestAdoptedBlobs: a blob missing from Berth's layout is read from
// Distribution's; an upload of the same content is dropped (deduplicated);
// deleting the blob leaves Distribution's file alone.
func TestAdoptedBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	own, err := filesystem.New(filepath.Join(dir, "berth"))
	if err != nil {
		t.Fatal(err)
	}
	dist, err := filesystem.New(filepath.Join(dir, "registry"))
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("a layer Distribution stored")
	d := digest.FromBytes(content)
	if err := dist.PutContent(ctx, storage.DistributionBlobPath(d), content); err != nil {
		t.Fatal(err)
	}
	b := storage.NewBlobs(own)
	if _, err := b.Stat(ctx, d); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("stat without adoption: %v", err)
	}
	b.Adopt(dist)
	if fi, err := b.Stat(ctx, d); err != nil || fi.Size != int64(len(content)) {
		t.Fatalf("stat adopted: %+v, %v", fi, err)
	}
	rc, err := b.Open(ctx, d, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != string(content[5:]) {
		t.Errorf("read from offset 5: %q", got)
	}
	if _, ok := b.RedirectURL(ctx, d, 0); ok {
		t.Error("a redirect URL from the filesystem")
	}
	// An upload of the same bytes: dropped, the adopted file serves.
	w, err := b.UploadWriter(ctx, "u1", 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(ctx, "u1", d); err != nil {
		t.Fatal(err)
	}
	if _, err := own.Stat(ctx, storage.BlobPath(d)); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the upload was kept in Berth's layout: %v", err)
	}
	if _, err := own.Stat(ctx, storage.UploadPath("u1")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the upload's file is left: %v", err)
	}
	// Deleting is Berth's own layout only.
	if err := b.Delete(ctx, d); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("delete: %v, want not found in Berth's layout", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "registry", filepath.FromSlash(storage.DistributionBlobPath(d)))); err != nil {
		t.Errorf("Distribution's file is gone: %v", err)
	}
	if got := storage.DistributionBlobPath(d); got != "docker/registry/v2/blobs/sha256/"+d.Encoded()[:2]+"/"+d.Encoded()+"/data" {
		t.Errorf("DistributionBlobPath = %q", got)
	}
}
