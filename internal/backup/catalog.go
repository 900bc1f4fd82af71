package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/storage"
)

// List returns the complete snapshots in dest, oldest first.
func List(ctx context.Context, dest storage.Driver) ([]Snapshot, error) {
	var out []Snapshot
	err := dest.Walk(ctx, "snapshots", func(fi storage.FileInfo) error {
		if !strings.HasSuffix(fi.Path, "/snapshot.json") {
			return nil
		}
		body, err := dest.GetContent(ctx, fi.Path)
		if err != nil {
			return err
		}
		var s Snapshot
		if err := json.Unmarshal(body, &s); err != nil || s.ID == "" {
			return fmt.Errorf("backup: %s is not a snapshot description", fi.Path)
		}
		out = append(out, s)
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return nil, fmt.Errorf("backup: listing snapshots: %w", err)
	}
	slices.SortFunc(out, func(a, b Snapshot) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Find returns the snapshot named id, or the newest when id is empty.
func Find(ctx context.Context, dest storage.Driver, id string) (Snapshot, error) {
	all, err := List(ctx, dest)
	if err != nil {
		return Snapshot{}, err
	}
	if len(all) == 0 {
		return Snapshot{}, fmt.Errorf("%w: the destination holds no complete snapshot", ErrNoSnapshot)
	}
	if id == "" {
		return all[len(all)-1], nil
	}
	for _, s := range all {
		if s.ID == id {
			return s, nil
		}
	}
	return Snapshot{}, fmt.Errorf("%w: %s", ErrNoSnapshot, id)
}

// blobList reads a snapshot's blob list.
func blobList(ctx context.Context, dest storage.Driver, id string, fn func(listEntry) error) error {
	r, err := dest.Reader(ctx, snapDir(id)+"/blobs.txt", 0)
	if err != nil {
		return fmt.Errorf("backup: snapshot %s: blob list: %w", id, err)
	}
	defer r.Close()
	return readList(r, fn)
}

// Prune keeps the keep newest complete snapshots and deletes the older
// ones, every incomplete one (a backup that died), leftovers of copies,
// and then every blob that no kept snapshot records. Only one backup runs
// at a time (the backup job's lease), so nothing being written is pruned.
func Prune(ctx context.Context, dest storage.Driver, keep int) (snapshots int, blobs int64, err error) {
	all, err := List(ctx, dest)
	if err != nil {
		return 0, 0, err
	}
	kept := map[string]bool{}
	for i, s := range all {
		if i >= len(all)-keep {
			kept[s.ID] = true
		}
	}
	// Every snapshot directory, complete or not.
	dirs := map[string]bool{}
	if err := dest.Walk(ctx, "snapshots", func(fi storage.FileInfo) error {
		if id, _, ok := strings.Cut(strings.TrimPrefix(fi.Path, "snapshots/"), "/"); ok {
			dirs[id] = true
		}
		return nil
	}); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return 0, 0, fmt.Errorf("backup: prune: %w", err)
	}
	for id := range dirs {
		if kept[id] {
			continue
		}
		// The description first: a half-deleted snapshot is incomplete, never listed.
		dest.Delete(ctx, snapDir(id)+"/snapshot.json")
		if err := dest.Delete(ctx, snapDir(id)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return snapshots, 0, fmt.Errorf("backup: prune %s: %w", id, err)
		}
		snapshots++
	}
	if err := dest.Delete(ctx, "tmp"); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return snapshots, 0, fmt.Errorf("backup: prune: %w", err)
	}
	used := map[digest.Digest]bool{}
	for id := range kept {
		if err := blobList(ctx, dest, id, func(e listEntry) error { used[e.Digest] = true; return nil }); err != nil {
			return snapshots, 0, err
		}
	}
	var unused []string
	if err := dest.Walk(ctx, "blobs", func(fi storage.FileInfo) error {
		parts := strings.Split(fi.Path, "/") // blobs/<alg>/<xx>/<hex>
		if len(parts) == 4 && !used[digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[3])] {
			unused = append(unused, fi.Path)
		}
		return nil
	}); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return snapshots, 0, fmt.Errorf("backup: prune: %w", err)
	}
	for _, p := range unused {
		if err := dest.Delete(ctx, p); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return snapshots, blobs, fmt.Errorf("backup: prune: %w", err)
		}
		blobs++
	}
	return snapshots, blobs, nil
}

// download copies a file of the destination to a local writer.
func download(ctx context.Context, dest storage.Driver, p string, w io.Writer) error {
	r, err := dest.Reader(ctx, p, 0)
	if err != nil {
		return fmt.Errorf("backup: reading %s: %w", p, err)
	}
	defer r.Close()
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("backup: reading %s: %w", p, err)
	}
	return nil
}
