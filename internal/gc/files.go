package gc

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/storage"
)

// deleteFiles deletes paths with up to Parallelism deletes at once and
// reports which are gone (deleted now, or already missing).
func (c *Collector) deleteFiles(ctx context.Context, paths []string) []bool {
	ok := make([]bool, len(paths))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(c.opts.Parallelism, len(paths)) {
		wg.Go(func() {
			for i := range work {
				err := c.blobs.Driver().Delete(ctx, paths[i])
				if err == nil || errors.Is(err, storage.ErrNotFound) {
					ok[i] = true
					continue
				}
				if ctx.Err() == nil {
					c.log.Warn("gc: delete failed; the next run retries", "path", paths[i], "error", err)
				}
			}
		})
	}
	for i := range paths {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return ok
}

// uploads purges abandoned upload sessions: the row (if still stale and
// not leased), then the bytes.
func (r *run) uploads(ctx context.Context) error {
	for {
		page, err := r.c.meta.StaleUploads(ctx, r.p.UploadBefore, r.p.Cursor, r.c.opts.BatchSize)
		if err != nil || len(page) == 0 {
			return err
		}
		var paths []string
		var sizes []int64
		for _, u := range page {
			if !r.dry {
				deleted, err := r.c.meta.DeleteStaleUpload(ctx, u.ID, r.p.UploadBefore)
				if err != nil {
					return err
				}
				if !deleted {
					continue
				}
				paths = append(paths, storage.UploadPath(u.ID))
				sizes = append(sizes, u.Size)
			}
			r.p.Report.Uploads++
			r.p.Report.UploadBytes += u.Size
			r.p.Report.item("upload %s of %s (%d bytes)", u.ID, u.Repository, u.Size)
		}
		for i, ok := range r.c.deleteFiles(ctx, paths) {
			if !ok {
				r.p.Report.Failures++
				r.p.Report.UploadBytes -= sizes[i]
			}
		}
		r.p.Cursor = page[len(page)-1].ID
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
}

// uploadFiles deletes files under uploads/ that no session owns and that
// were last written before the upload age limit: bytes of sessions whose
// row is gone, or of monolithic pushes (which have no session) that died.
func (r *run) uploadFiles(ctx context.Context) error {
	type file struct {
		id   string
		size int64
	}
	var batch []file
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]string, len(batch))
		for i, f := range batch {
			ids[i] = f.id
		}
		known, err := r.c.meta.KnownUploads(ctx, ids)
		if err != nil {
			return err
		}
		var paths []string
		var orphans []file
		for _, f := range batch {
			if !known[f.id] {
				paths = append(paths, storage.UploadPath(f.id))
				orphans = append(orphans, f)
			}
		}
		ok := make([]bool, len(paths))
		if !r.dry {
			ok = r.c.deleteFiles(ctx, paths)
		}
		for i, f := range orphans {
			if !r.dry && !ok[i] {
				r.p.Report.Failures++
				continue
			}
			r.p.Report.UploadFiles++
			r.p.Report.UploadBytes += f.size
			r.p.Report.item("upload file %s (%d bytes)", f.id, f.size)
		}
		r.p.Cursor = batch[len(batch)-1].id
		batch = batch[:0]
		return r.checkpoint(ctx)
	}
	err := r.c.blobs.Driver().Walk(ctx, "uploads", func(fi storage.FileInfo) error {
		id, ok := strings.CutPrefix(fi.Path, "uploads/")
		if !ok || id == "" || strings.Contains(id, "/") || id <= r.p.Cursor || !fi.ModTime.Before(r.p.UploadBefore) {
			return nil
		}
		batch = append(batch, file{id, fi.Size})
		if len(batch) >= r.c.opts.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return flush()
}

// orphans deletes blob files that have no row and were last written
// before the grace period. Each is first recorded as a tombstone (so no
// push can record the blob meanwhile), then deleted, then forgotten.
func (r *run) orphans(ctx context.Context) error {
	var batch []meta.Blob
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ds := make([]digest.Digest, len(batch))
		for i, b := range batch {
			ds[i] = b.Digest
		}
		known, err := r.c.meta.KnownBlobs(ctx, ds)
		if err != nil {
			return err
		}
		var orphans []meta.Blob
		for _, b := range batch {
			if !known[b.Digest] {
				orphans = append(orphans, b)
			}
		}
		if r.dry {
			for _, b := range orphans {
				r.countBlob(b, true)
			}
		} else if len(orphans) > 0 {
			marked, err := r.c.meta.MarkOrphanBlobs(ctx, orphans)
			if err != nil {
				return err
			}
			if err := r.deleteBlobs(ctx, marked, true); err != nil {
				return err
			}
		}
		r.p.Cursor = storage.BlobPath(batch[len(batch)-1].Digest)
		batch = batch[:0]
		return r.checkpoint(ctx)
	}
	err := r.c.blobs.Driver().Walk(ctx, "blobs", func(fi storage.FileInfo) error {
		if fi.Path <= r.p.Cursor || !fi.ModTime.Before(r.p.Before) {
			return nil
		}
		d, ok := blobDigest(fi.Path)
		if !ok {
			return nil // not a blob path: not ours to judge
		}
		batch = append(batch, meta.Blob{Digest: d, Size: fi.Size})
		if len(batch) >= r.c.opts.BatchSize {
			return flush()
		}
		return nil
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return flush()
}

// blobDigest parses a blob path (blobs/<alg>/<2 hex>/<hex>) back into its
// digest; ok is false for anything else.
func blobDigest(path string) (digest.Digest, bool) {
	parts := strings.Split(path, "/")
	if len(parts) != 4 || parts[0] != "blobs" {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[1]), parts[3])
	if d.Validate() != nil || !strings.HasPrefix(parts[3], parts[2]) || storage.BlobPath(d) != path {
		return "", false
	}
	return d, true
}
