package meta

import (
	"context"

	"github.com/opencontainers/go-digest"
)

// SnapshotBlob is a blob that a metadata snapshot records.
type SnapshotBlob struct {
	Digest digest.Digest
	Size   int64
}

// SnapshotInfo describes a snapshot written by Snapshot.
type SnapshotInfo struct {
	// File is the name of the file written into the snapshot directory.
	File string
	// Format is how to restore it: "sqlite" (a database file) or
	// "pg_dump" (pg_dump's custom format, for pg_restore).
	Format string
}

// Snapshotter makes consistent copies of the metadata database while it
// keeps serving (backups).
type Snapshotter interface {
	// Snapshot writes a copy of the whole database, consistent as of one
	// instant, into the directory dir, and calls blob for every blob that
	// this same copy records (tombstones excluded), in digest order. The
	// copy holds no upload sessions and no leases: they belong to the
	// running instances.
	Snapshot(ctx context.Context, dir string, blob func(SnapshotBlob) error) (SnapshotInfo, error)
}
