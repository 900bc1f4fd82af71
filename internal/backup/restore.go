package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage"
)

// Target is where a snapshot is restored: an empty registry.
type Target struct {
	Blobs *storage.Blobs
	// SQLitePath is the database file to create (snapshots in sqlite format).
	SQLitePath string
	// PostgresDSN is the empty database to load (snapshots in pg_dump format).
	PostgresDSN string
}

// RestoreReport is what a restore did.
type RestoreReport struct {
	Snapshot    string  `json:"snapshot"`
	Blobs       int64   `json:"blobs"`
	Copied      int64   `json:"copied"`
	CopiedBytes int64   `json:"copied_bytes"`
	Skipped     int64   `json:"skipped"`
	Duration    float64 `json:"duration_seconds"`
}

// Restore restores snapshot id (the newest when "") from src into t. The
// target's database must not exist yet. Blobs are copied first (verified;
// those already in the target are kept), the database last: a restore
// that dies half-way leaves no database, and running it again finishes it.
func Restore(ctx context.Context, src storage.Driver, id string, t Target, o Options) (*RestoreReport, error) {
	o.defaults()
	start := time.Now()
	snap, err := Find(ctx, src, id)
	if err != nil {
		return nil, err
	}
	rep := &RestoreReport{Snapshot: snap.ID}
	switch snap.Format {
	case "sqlite":
		if t.SQLitePath == "" {
			return rep, errors.New("backup: restore: the snapshot is of an SQLite database; configure database.driver: sqlite")
		}
		if _, err := os.Stat(t.SQLitePath); err == nil {
			return rep, fmt.Errorf("backup: restore: %s already exists; restore into an empty data directory", t.SQLitePath)
		}
	case "pg_dump":
		if t.PostgresDSN == "" {
			return rep, errors.New("backup: restore: the snapshot is of a PostgreSQL database; configure database.driver: postgres")
		}
	default:
		return rep, fmt.Errorf("backup: restore: unknown snapshot format %q", snap.Format)
	}
	var done, bytes atomic.Int64
	var mu sync.Mutex
	err = parallel(ctx, src, snap.ID, o.Parallelism, func(ctx context.Context, e listEntry) error {
		copied, err := restoreBlob(ctx, src, t.Blobs, e)
		if err != nil {
			return err
		}
		mu.Lock()
		rep.Blobs++
		if copied {
			rep.Copied++
			rep.CopiedBytes += e.Size
			bytes.Add(e.Size)
		} else {
			rep.Skipped++
		}
		mu.Unlock()
		o.Progress(Progress{Phase: "blobs", Done: done.Add(1), Total: snap.Blobs, Bytes: bytes.Load()})
		return nil
	})
	if err != nil {
		return rep, err
	}
	o.Progress(Progress{Phase: "database"})
	if err := restoreMeta(ctx, src, snap, t, o.TempDir); err != nil {
		return rep, err
	}
	rep.Duration = time.Since(start).Seconds()
	return rep, nil
}

func restoreBlob(ctx context.Context, src storage.Driver, to *storage.Blobs, e listEntry) (bool, error) {
	if fi, err := to.Stat(ctx, e.Digest); err == nil && fi.Size == e.Size {
		return false, nil
	}
	r, err := src.Reader(ctx, storage.BlobPath(e.Digest), 0)
	if err != nil {
		return false, fmt.Errorf("backup: restore: blob %s: %w", e.Digest, err)
	}
	defer r.Close()
	tmp := storage.UploadPath("restore-" + e.Digest.Encoded())
	return true, writeVerified(ctx, to.Driver(), e, r, tmp, storage.BlobPath(e.Digest))
}

func restoreMeta(ctx context.Context, src storage.Driver, snap Snapshot, t Target, tempDir string) error {
	p := snapDir(snap.ID) + "/" + snap.File
	if snap.Format == "sqlite" {
		r, err := src.Reader(ctx, p, 0)
		if err != nil {
			return fmt.Errorf("backup: restore: %w", err)
		}
		defer r.Close()
		return sqlite.RestoreSnapshot(t.SQLitePath, r)
	}
	dir, err := os.MkdirTemp(tempDir, "berth-restore-")
	if err != nil {
		return fmt.Errorf("backup: restore: %w", err)
	}
	defer os.RemoveAll(dir)
	local := filepath.Join(dir, snap.File)
	if err := downloadFile(ctx, src, p, local); err != nil {
		return err
	}
	return postgres.RestoreSnapshot(ctx, t.PostgresDSN, local)
}

func downloadFile(ctx context.Context, src storage.Driver, p, local string) error {
	f, err := os.Create(local)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := download(ctx, src, p, f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parallel runs fn for each blob of a snapshot's list on n goroutines,
// stopping at the first error.
func parallel(ctx context.Context, src storage.Driver, id string, n int, fn func(context.Context, listEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan listEntry)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				if err := fn(ctx, e); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	err := blobList(ctx, src, id, func(e listEntry) error {
		select {
		case work <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if first != nil {
		return first
	}
	return err
}

// VerifyReport is what a verification found.
type VerifyReport struct {
	Snapshot string   `json:"snapshot"`
	Checked  int64    `json:"checked"`
	Blobs    int64    `json:"blobs"`
	Problems []string `json:"problems"`
}

// maxProblems bounds a verification's list of problems.
const maxProblems = 100

// Verify re-hashes the blobs of snapshot id (the newest when "") in src,
// all of them or a random fraction (sample in (0,1]), and, for an SQLite
// snapshot, checks every reference inside its database against its blob
// list. Problems are returned in the report, not as an error.
func Verify(ctx context.Context, src storage.Driver, id string, sample float64, o Options) (*VerifyReport, error) {
	o.defaults()
	snap, err := Find(ctx, src, id)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Snapshot: snap.ID, Blobs: snap.Blobs}
	var mu sync.Mutex
	problem := func(s string) {
		mu.Lock()
		if len(rep.Problems) < maxProblems {
			rep.Problems = append(rep.Problems, s)
		}
		mu.Unlock()
	}
	var done atomic.Int64
	err = parallel(ctx, src, snap.ID, o.Parallelism, func(ctx context.Context, e listEntry) error {
		if sample < 1 && rand.Float64() >= sample {
			return nil
		}
		if err := verifyBlob(ctx, src, e); err != nil {
			problem(err.Error())
		}
		mu.Lock()
		rep.Checked++
		mu.Unlock()
		o.Progress(Progress{Phase: "verify", Done: done.Add(1), Total: snap.Blobs})
		return ctx.Err()
	})
	if err != nil {
		return rep, err
	}
	if snap.Format == "sqlite" {
		dir, err := os.MkdirTemp(o.TempDir, "berth-verify-")
		if err != nil {
			return rep, err
		}
		defer os.RemoveAll(dir)
		local := filepath.Join(dir, snap.File)
		if err := downloadFile(ctx, src, snapDir(snap.ID)+"/"+snap.File, local); err != nil {
			return rep, err
		}
		refs, err := sqlite.CheckSnapshot(ctx, local, maxProblems)
		if err != nil {
			return rep, err
		}
		for _, p := range refs {
			problem(p)
		}
	}
	return rep, nil
}

func verifyBlob(ctx context.Context, src storage.Driver, e listEntry) error {
	r, err := src.Reader(ctx, storage.BlobPath(e.Digest), 0)
	if err != nil {
		return fmt.Errorf("blob %s: %v", e.Digest, err)
	}
	defer r.Close()
	v := e.Digest.Verifier()
	n, err := io.Copy(v, r)
	switch {
	case err != nil:
		return fmt.Errorf("blob %s: %v", e.Digest, err)
	case n != e.Size:
		return fmt.Errorf("blob %s: %d bytes, %d recorded", e.Digest, n, e.Size)
	case !v.Verified():
		return fmt.Errorf("blob %s: content does not match its digest", e.Digest)
	}
	return nil
}
