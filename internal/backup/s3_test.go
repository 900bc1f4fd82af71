package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
	berths3 "github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func noHold(ctx context.Context) (context.Context, func(), error) { return ctx, func() {}, nil }

// TestBackupToBucket: a backup into an S3 bucket (MinIO) restores into an
// empty data directory with every blob and the database.
func TestBackupToBucket(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "src", "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fs, _ := filesystem.New(filepath.Join(dir, "src", "blobs"))
	blobs := storage.NewBlobs(fs)
	var want []digest.Digest
	for _, c := range []string{"one", "two", "three"} {
		d := digest.FromString(c)
		if err := fs.PutContent(ctx, storage.BlobPath(d), []byte(c)); err != nil {
			t.Fatal(err)
		}
		if err := store.PutBlob(ctx, "x/y", meta.Blob{Digest: d, Size: int64(len(c))}); err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
	}
	bucket, err := berths3.New(ctx, s3test.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := backup.Run(ctx, backup.Source{Meta: store, Blobs: blobs, Hold: noHold}, bucket, backup.Options{})
	if err != nil || rep.Copied != 3 {
		t.Fatalf("backup: %+v, %v", rep, err)
	}
	target, _ := filesystem.New(filepath.Join(dir, "restored", "blobs"))
	db := filepath.Join(dir, "restored", "berth.db")
	rr, err := backup.Restore(ctx, bucket, "", backup.Target{Blobs: storage.NewBlobs(target), SQLitePath: db}, backup.Options{})
	if err != nil || rr.Copied != 3 {
		t.Fatalf("restore: %+v, %v", rr, err)
	}
	restored, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	for _, d := range want {
		if _, err := restored.Blob(ctx, "x/y", d); err != nil {
			t.Fatalf("restored database lacks %s: %v", d, err)
		}
		if fi, err := target.Stat(ctx, storage.BlobPath(d)); err != nil || fi.Size == 0 {
			t.Fatalf("restored storage lacks %s: %v", d, err)
		}
	}
	if vr, err := backup.Verify(ctx, bucket, "", 1, backup.Options{}); err != nil || len(vr.Problems) != 0 || vr.Checked != 3 {
		t.Fatalf("verify: %+v, %v", vr, err)
	}
}

// TestRestoreRefusesExistingDatabase: restore never overwrites a database.
func TestRestoreRefusesExistingDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fs, _ := filesystem.New(filepath.Join(dir, "blobs"))
	dest, _ := filesystem.New(filepath.Join(dir, "backup"))
	if _, err := backup.Run(ctx, backup.Source{Meta: store, Blobs: storage.NewBlobs(fs), Hold: noHold}, dest, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Restore(ctx, dest, "", backup.Target{Blobs: storage.NewBlobs(fs), SQLitePath: filepath.Join(dir, "berth.db")}, backup.Options{}); err == nil {
		t.Fatal("restore over an existing database succeeded")
	}
	if _, err := backup.Restore(ctx, dest, "nope", backup.Target{Blobs: storage.NewBlobs(fs), SQLitePath: filepath.Join(dir, "new.db")}, backup.Options{}); err == nil {
		t.Fatal("restore of an unknown snapshot succeeded")
	}
}
