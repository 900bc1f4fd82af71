// Package backup makes online, consistent, incremental backups of a
// registry and restores them.
//
// A backup is a snapshot of the metadata database (meta.Snapshotter: one
// consistent instant while the registry serves) plus every blob that this
// snapshot records, copied by digest into a destination, which is any
// storage driver (a directory, an S3 bucket):
//
//	blobs/<alg>/<xx>/<hex>            blob content, shared by every snapshot
//	snapshots/<id>/meta.sqlite        (or meta.pgdump) the database copy
//	snapshots/<id>/blobs.txt          "<digest> <size>" per blob it records
//	snapshots/<id>/snapshot.json      written last: the snapshot is complete
//	tmp/<id>/...                      blobs being copied
//
// Blobs are content-addressed, so a second backup copies only new blobs:
// incremental by construction. A snapshot without snapshot.json (a backup
// killed half-way) is not listed and is removed by the next prune.
//
// While blobs are copied the backup holds garbage collection (jobs.Hold),
// so no blob the snapshot lists is deleted before it is copied; pushes and
// pulls go on.
package backup

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/buildinfo"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/storage"
)

// ErrNoSnapshot: the destination holds no (such) complete snapshot.
var ErrNoSnapshot = errors.New("no such backup snapshot")

// Snapshot describes a complete snapshot (its snapshot.json).
type Snapshot struct {
	ID      string    `json:"id"`
	Time    time.Time `json:"time"`
	Format  string    `json:"format"` // sqlite or pg_dump
	File    string    `json:"file"`
	Blobs   int64     `json:"blobs"`
	Bytes   int64     `json:"bytes"`
	Version string    `json:"berth_version"`
}

// Report is what a backup run did.
type Report struct {
	Snapshot       string  `json:"snapshot"`
	Blobs          int64   `json:"blobs"`
	Bytes          int64   `json:"bytes"`
	Copied         int64   `json:"copied"`
	CopiedBytes    int64   `json:"copied_bytes"`
	Skipped        int64   `json:"skipped"`
	PrunedSnaps    int     `json:"pruned_snapshots,omitempty"`
	PrunedBlobs    int64   `json:"pruned_blobs,omitempty"`
	Duration       float64 `json:"duration_seconds"`
	SnapshotFormat string  `json:"format"`
	// Error is why the run failed (set by the job, "" on success).
	Error string `json:"error,omitempty"`
}

// Progress is reported while blobs are copied.
type Progress struct {
	Phase       string // "snapshot", "blobs", "prune"
	Done, Total int64  // blobs
	Bytes       int64  // bytes copied so far
}

// Source is the registry being backed up.
type Source struct {
	Meta  meta.Snapshotter
	Blobs *storage.Blobs
	// Hold keeps garbage collection from deleting blobs until release.
	Hold func(ctx context.Context) (context.Context, func(), error)
}

// Options tune a backup.
type Options struct {
	// Keep: after a successful backup, keep this many newest snapshots and
	// delete older ones with the blobs only they recorded (0: keep all).
	Keep int
	// Parallelism is how many blobs are copied at once. Default 4.
	Parallelism int
	// TempDir holds the database copy before it is stored. Default os.TempDir().
	TempDir  string
	Progress func(Progress)
	Log      *slog.Logger
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

func snapDir(id string) string { return "snapshots/" + id }

// newID names a snapshot by its UTC time and a random suffix. Snapshots
// are ordered by their recorded time (nanoseconds), not by name.
func newID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Run backs src up into dest.
func Run(ctx context.Context, src Source, dest storage.Driver, o Options) (*Report, error) {
	o.defaults()
	start := time.Now()
	id := newID(start)
	rep := &Report{Snapshot: id}
	tmp, err := os.MkdirTemp(o.TempDir, "berth-backup-")
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(tmp)

	held, release, err := src.Hold(ctx)
	if err != nil {
		return rep, fmt.Errorf("backup: holding garbage collection: %w", err)
	}
	defer func() { release() }()
	o.Progress(Progress{Phase: "snapshot"})
	list, err := os.Create(filepath.Join(tmp, "blobs.txt"))
	if err != nil {
		return rep, fmt.Errorf("backup: %w", err)
	}
	defer list.Close()
	lw := bufio.NewWriter(list)
	info, err := src.Meta.Snapshot(held, tmp, func(b meta.SnapshotBlob) error {
		rep.Blobs++
		rep.Bytes += b.Size
		_, err := fmt.Fprintf(lw, "%s %d\n", b.Digest, b.Size)
		return err
	})
	if err == nil {
		err = lw.Flush()
	}
	if err != nil {
		return rep, fmt.Errorf("backup: snapshot: %w", err)
	}
	rep.SnapshotFormat = info.Format
	dir := snapDir(id)
	for _, f := range []string{info.File, "blobs.txt"} {
		if err := putFile(held, dest, dir+"/"+f, filepath.Join(tmp, f)); err != nil {
			return rep, err
		}
	}
	if err := copyBlobs(held, src.Blobs, dest, filepath.Join(tmp, "blobs.txt"), "tmp/"+id, rep, o); err != nil {
		return rep, err
	}
	release()
	release = func() {}
	snap := Snapshot{ID: id, Time: start.UTC(), Format: info.Format, File: info.File,
		Blobs: rep.Blobs, Bytes: rep.Bytes, Version: buildinfo.Version}
	body, _ := json.MarshalIndent(snap, "", "  ")
	if err := dest.PutContent(ctx, dir+"/snapshot.json", body); err != nil {
		return rep, fmt.Errorf("backup: completing snapshot %s: %w", id, err)
	}
	dest.Delete(ctx, "tmp/"+id)
	if o.Keep > 0 {
		o.Progress(Progress{Phase: "prune"})
		n, blobs, err := Prune(ctx, dest, o.Keep)
		rep.PrunedSnaps, rep.PrunedBlobs = n, blobs
		if err != nil {
			return rep, err
		}
	}
	rep.Duration = time.Since(start).Seconds()
	o.Log.InfoContext(ctx, "backup complete", "snapshot", id, "blobs", rep.Blobs, "copied", rep.Copied,
		"skipped", rep.Skipped, "bytes_copied", rep.CopiedBytes, "duration", time.Since(start).Round(time.Millisecond))
	return rep, nil
}

// putFile stores a local file in the destination.
func putFile(ctx context.Context, dest storage.Driver, to, from string) error {
	f, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	w, err := dest.Writer(ctx, to, 0)
	if err != nil {
		return fmt.Errorf("backup: writing %s: %w", to, err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Cancel(ctx)
		return fmt.Errorf("backup: writing %s: %w", to, err)
	}
	if err := w.Commit(ctx); err != nil {
		return fmt.Errorf("backup: writing %s: %w", to, err)
	}
	return nil
}

// listEntry is one line of blobs.txt.
type listEntry struct {
	Digest digest.Digest
	Size   int64
}

// readList calls fn for each entry of a blobs.txt stream.
func readList(r io.Reader, fn func(listEntry) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		d, size, ok := strings.Cut(sc.Text(), " ")
		sz, err := strconv.ParseInt(size, 10, 64)
		dg, derr := digest.Parse(d)
		if !ok || err != nil || derr != nil || sz < 0 {
			return fmt.Errorf("backup: blob list line %d: malformed %q", n, sc.Text())
		}
		if err := fn(listEntry{dg, sz}); err != nil {
			return err
		}
	}
	return sc.Err()
}

// copyBlobs copies every blob of the list that dest lacks, verifying its
// digest on the way; tmpDir holds partial copies.
func copyBlobs(ctx context.Context, from *storage.Blobs, dest storage.Driver, listPath, tmpDir string, rep *Report, o Options) error {
	f, err := os.Open(listPath)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer f.Close()
	var done, bytes atomic.Int64
	work := make(chan listEntry)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range o.Parallelism {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range work {
				copied, err := copyBlob(ctx, from, dest, e, tmpDir)
				mu.Lock()
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				case copied:
					rep.Copied++
					rep.CopiedBytes += e.Size
					bytes.Add(e.Size)
				default:
					rep.Skipped++
				}
				mu.Unlock()
				if err == nil {
					o.Progress(Progress{Phase: "blobs", Done: done.Add(1), Total: rep.Blobs, Bytes: bytes.Load()})
				}
			}
		}()
	}
	err = readList(f, func(e listEntry) error {
		select {
		case work <- e:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return err
}

// copyBlob copies one blob unless dest has it (same size); it reports
// whether it copied.
func copyBlob(ctx context.Context, from *storage.Blobs, dest storage.Driver, e listEntry, tmpDir string) (bool, error) {
	to := storage.BlobPath(e.Digest)
	if fi, err := dest.Stat(ctx, to); err == nil && fi.Size == e.Size {
		return false, nil
	}
	r, err := from.Open(ctx, e.Digest, 0)
	if errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("backup: blob %s is recorded but its file is missing from storage (run `berth scrub`)", e.Digest)
	}
	if err != nil {
		return false, fmt.Errorf("backup: reading blob %s: %w", e.Digest, err)
	}
	defer r.Close()
	return true, writeVerified(ctx, dest, e, r, path.Join(tmpDir, e.Digest.Encoded()), to)
}

// writeVerified writes r to tmp in dest, checks digest and size, then
// moves it to its place: a reader never sees a partial or corrupt blob.
func writeVerified(ctx context.Context, dest storage.Driver, e listEntry, r io.Reader, tmp, to string) error {
	w, err := dest.Writer(ctx, tmp, 0)
	if err != nil {
		return fmt.Errorf("backup: writing blob %s: %w", e.Digest, err)
	}
	v := e.Digest.Verifier()
	n, err := io.Copy(io.MultiWriter(w, v), r)
	if err == nil && (n != e.Size || !v.Verified()) {
		err = fmt.Errorf("content does not match its digest (%d bytes, %d recorded)", n, e.Size)
	}
	if err != nil {
		w.Cancel(ctx)
		return fmt.Errorf("backup: blob %s: %w", e.Digest, err)
	}
	if err := w.Commit(ctx); err != nil {
		return fmt.Errorf("backup: writing blob %s: %w", e.Digest, err)
	}
	if err := dest.Move(ctx, tmp, to); err != nil {
		return fmt.Errorf("backup: writing blob %s: %w", e.Digest, err)
	}
	return nil
}
