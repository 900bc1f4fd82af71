// Package gc is Berth's online garbage collector: it reclaims what nothing
// references while the registry keeps serving pushes and pulls on every
// instance, with no read-only mode.
//
// A run goes through phases, each in batches, saving its progress after
// every batch so that a run interrupted by a restart (or by the death of
// its instance) resumes where it was:
//
//  0. tombstones: finish deleting blobs an interrupted run had started on;
//  1. uploads: purge upload sessions not written for upload_max_age (the
//     row, then uploads/<id>), then files under uploads/ that no session
//     owns and that are that old (left by crashed monolithic pushes);
//  2. manifests: delete untagged manifests that no index of their
//     repository lists and that have no subject (or, when configured, whose
//     subject is gone), created more than the grace period ago; repeated
//     while a pass deletes something, since deleting an index frees its
//     children;
//  3. links: delete repository-blob links older than the grace period that
//     no manifest of the repository references;
//  4. blobs: delete blobs that no repository links, older than the grace
//     period: the row becomes a tombstone (in a transaction that re-checks),
//     the file is deleted, then the tombstone;
//  5. orphan files: walk blobs/ in storage and delete files that have no
//     row and were last written more than the grace period ago (left by a
//     crash between a file's commit and its row, or its deletion and the
//     tombstone's).
//
// Why this is safe under concurrency is the metadata store's part (see
// meta.GCStore): every delete re-checks its condition in its transaction
// after locking the rows, and pushes respect tombstones and check that a
// blob row they create anew has its file. The grace period protects what
// is in flight without being referenced yet: a blob uploaded (its link is
// new) before its manifest, the children of an index pushed before it.
package gc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/storage"
)

// Options configure the collector.
type Options struct {
	// GracePeriod: content younger than this is never collected.
	GracePeriod time.Duration
	// UploadMaxAge: upload sessions not written for this long are purged.
	UploadMaxAge time.Duration
	// BatchSize is how many items each transaction handles. Default 500.
	BatchSize int
	// Parallelism is how many storage deletes run at once. Default 8.
	Parallelism int
	// OrphanReferrers: collect untagged referrers whose subject is gone.
	OrphanReferrers bool
	// ManifestDeleted, if set, is told of every manifest deleted (to drop
	// it from caches).
	ManifestDeleted func(repo string, d digest.Digest)
}

// Collector runs garbage collection over a metadata store and blob storage.
type Collector struct {
	meta  meta.Store
	blobs *storage.Blobs
	opts  Options
	log   *slog.Logger
}

// New returns a collector.
func New(m meta.Store, b *storage.Blobs, opts Options, log *slog.Logger) *Collector {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.Parallelism <= 0 {
		opts.Parallelism = 8
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Collector{meta: m, blobs: b, opts: opts, log: log}
}

// maxItems bounds the items a report lists.
const maxItems = 1000

// Report is what a run found and freed. In a dry run the counts are what
// the run would delete.
type Report struct {
	DryRun     bool      `json:"dry_run"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Duration of the run in seconds (all its parts, when resumed).
	Duration float64 `json:"duration_seconds"`
	Resumed  bool    `json:"resumed,omitempty"`
	// Manifests deleted, with their bytes.
	Manifests     int64 `json:"manifests"`
	ManifestBytes int64 `json:"manifest_bytes"`
	// Links: repository-blob links deleted.
	Links int64 `json:"links"`
	// Blobs deleted, with their bytes (rows and files).
	Blobs     int64 `json:"blobs"`
	BlobBytes int64 `json:"blob_bytes"`
	// OrphanFiles: blob files without a row deleted, with their bytes.
	OrphanFiles int64 `json:"orphan_files"`
	OrphanBytes int64 `json:"orphan_bytes"`
	// Uploads: abandoned upload sessions purged; UploadFiles: upload
	// files without a session deleted; UploadBytes: both's bytes.
	Uploads     int64 `json:"uploads"`
	UploadFiles int64 `json:"upload_files"`
	UploadBytes int64 `json:"upload_bytes"`
	// Failures: storage deletes that failed (retried by the next run).
	Failures int64  `json:"failures"`
	Error    string `json:"error,omitempty"`
	// Items lists what went (or would go), at most 1000.
	Items     []string `json:"items,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// FreedBytes is every byte the run freed.
func (r *Report) FreedBytes() int64 {
	return r.ManifestBytes + r.BlobBytes + r.OrphanBytes + r.UploadBytes
}

func (r *Report) item(format string, args ...any) {
	if len(r.Items) >= maxItems {
		r.Truncated = true
		return
	}
	r.Items = append(r.Items, fmt.Sprintf(format, args...))
}

// Phases of a run.
const (
	phaseTombstones = iota
	phaseUploads
	phaseUploadFiles
	phaseManifests
	phaseLinks
	phaseBlobs
	phaseOrphans
	phaseDone
)

// progress is a run's resumable state, saved after every batch.
type progress struct {
	Phase        int           `json:"phase"`
	Before       time.Time     `json:"before"`        // content created before this is old enough
	UploadBefore time.Time     `json:"upload_before"` // sessions last written before this are abandoned
	Cursor       string        `json:"cursor,omitempty"`
	ManifestID   int64         `json:"manifest_id,omitempty"`
	Pass         int           `json:"pass,omitempty"`
	PassDeleted  bool          `json:"pass_deleted,omitempty"`
	Link         meta.BlobLink `json:"link,omitzero"`
	Report       Report        `json:"report"`
}

// Saver persists a run's progress (jobs.Run.Save); nil saves nothing.
type Saver func(ctx context.Context, progress string) error

// Run collects garbage (or, with dryRun, only reports what would go),
// resuming from resume (a saved progress) when it is not empty. It saves
// progress with save after every batch.
func (c *Collector) Run(ctx context.Context, dryRun bool, resume string, save Saver) (Report, error) {
	start := time.Now()
	var p progress
	if resume != "" && json.Unmarshal([]byte(resume), &p) == nil && p.Report.DryRun == dryRun {
		p.Report.Resumed = true
	} else {
		p = progress{Before: start.Add(-c.opts.GracePeriod), UploadBefore: start.Add(-c.opts.UploadMaxAge),
			Report: Report{DryRun: dryRun, StartedAt: start}}
	}
	r := &run{c: c, p: &p, save: save, dry: dryRun, log: c.log.With("dry_run", dryRun)}
	elapsed := p.Report.Duration
	err := r.all(ctx)
	rep := p.Report
	rep.Duration = elapsed + time.Since(start).Seconds()
	if err != nil {
		rep.Error = err.Error()
		if ctx.Err() == nil {
			c.log.Error("gc failed", "error", err)
		}
		return rep, err
	}
	rep.FinishedAt = time.Now()
	c.log.Info("gc finished", "dry_run", dryRun, "manifests", rep.Manifests, "links", rep.Links,
		"blobs", rep.Blobs, "orphan_files", rep.OrphanFiles, "uploads", rep.Uploads+rep.UploadFiles,
		"bytes", rep.FreedBytes(), "failures", rep.Failures, "duration", time.Duration(rep.Duration*float64(time.Second)))
	return rep, nil
}

// run is one run's state.
type run struct {
	c    *Collector
	p    *progress
	save Saver
	dry  bool
	log  *slog.Logger
}

func (r *run) policy() meta.GCPolicy {
	return meta.GCPolicy{Before: r.p.Before, OrphanReferrers: r.c.opts.OrphanReferrers}
}

// checkpoint saves the progress.
func (r *run) checkpoint(ctx context.Context) error {
	if r.save == nil {
		return ctx.Err()
	}
	b, err := json.Marshal(r.p)
	if err != nil {
		return err
	}
	return r.save(ctx, string(b))
}

// next moves to the next phase.
func (r *run) next(ctx context.Context) error {
	r.p.Phase++
	r.p.Cursor, r.p.ManifestID, r.p.Pass, r.p.PassDeleted, r.p.Link = "", 0, 0, false, meta.BlobLink{}
	return r.checkpoint(ctx)
}

func (r *run) all(ctx context.Context) error {
	phases := []func(context.Context) error{
		phaseTombstones:  r.tombstones,
		phaseUploads:     r.uploads,
		phaseUploadFiles: r.uploadFiles,
		phaseManifests:   r.manifests,
		phaseLinks:       r.links,
		phaseBlobs:       r.blobsPhase,
		phaseOrphans:     r.orphans,
	}
	for r.p.Phase < phaseDone {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := phases[r.p.Phase](ctx); err != nil {
			return err
		}
		if err := r.next(ctx); err != nil {
			return err
		}
	}
	return nil
}

// manifests deletes collectable manifests, pass after pass while a pass
// deletes some (at most 10 passes: deeper nesting waits for the next run).
func (r *run) manifests(ctx context.Context) error {
	for {
		page, err := r.c.meta.GCManifests(ctx, r.policy(), r.p.ManifestID, r.c.opts.BatchSize)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			if r.dry || !r.p.PassDeleted || r.p.Pass >= 9 {
				return nil
			}
			r.p.Pass++
			r.p.PassDeleted, r.p.ManifestID = false, 0
			continue
		}
		deleted := page
		if !r.dry {
			if deleted, err = r.c.meta.DeleteGCManifests(ctx, r.policy(), page); err != nil {
				return err
			}
		}
		for _, m := range deleted {
			r.p.Report.Manifests++
			r.p.Report.ManifestBytes += m.Size
			r.p.Report.item("manifest %s@%s", m.Repository, m.Digest)
			if r.c.opts.ManifestDeleted != nil && !r.dry {
				r.c.opts.ManifestDeleted(m.Repository, m.Digest)
			}
		}
		r.p.PassDeleted = r.p.PassDeleted || len(deleted) > 0
		r.p.ManifestID = page[len(page)-1].ID
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
}

// links deletes unreferenced repository-blob links.
func (r *run) links(ctx context.Context) error {
	for {
		page, err := r.c.meta.GCLinks(ctx, r.policy(), r.p.Link, r.c.opts.BatchSize)
		if err != nil || len(page) == 0 {
			return err
		}
		deleted := page
		if !r.dry {
			if deleted, err = r.c.meta.DeleteGCLinks(ctx, r.policy(), page); err != nil {
				return err
			}
		}
		for _, l := range deleted {
			r.p.Report.Links++
			r.p.Report.item("link %s@%s", l.Repository, l.Digest)
		}
		r.p.Link = page[len(page)-1]
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
}

// blobsPhase deletes blobs no repository links: tombstone, file, row.
func (r *run) blobsPhase(ctx context.Context) error {
	for {
		page, err := r.c.meta.GCBlobs(ctx, r.policy(), digest.Digest(r.p.Cursor), r.c.opts.BatchSize)
		if err != nil || len(page) == 0 {
			return err
		}
		if r.dry {
			for _, b := range page {
				r.countBlob(b, false)
			}
		} else {
			ds := make([]digest.Digest, len(page))
			for i, b := range page {
				ds[i] = b.Digest
			}
			marked, err := r.c.meta.MarkBlobsDeleting(ctx, r.policy(), ds)
			if err != nil {
				return err
			}
			if err := r.deleteBlobs(ctx, marked, false); err != nil {
				return err
			}
		}
		r.p.Cursor = page[len(page)-1].Digest.String()
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
}

func (r *run) countBlob(b meta.Blob, orphan bool) {
	if orphan {
		r.p.Report.OrphanFiles++
		r.p.Report.OrphanBytes += b.Size
		r.p.Report.item("orphan file %s (%d bytes)", b.Digest, b.Size)
		return
	}
	r.p.Report.Blobs++
	r.p.Report.BlobBytes += b.Size
	r.p.Report.item("blob %s (%d bytes)", b.Digest, b.Size)
}

// deleteBlobs deletes the files of tombstoned blobs in parallel, then the
// tombstones of those whose file is gone. A file that could not be
// deleted keeps its tombstone for the next run.
func (r *run) deleteBlobs(ctx context.Context, bs []meta.Blob, orphan bool) error {
	if len(bs) == 0 {
		return nil
	}
	paths := make([]string, len(bs))
	for i, b := range bs {
		paths[i] = storage.BlobPath(b.Digest)
	}
	ok := r.c.deleteFiles(ctx, paths)
	var gone []digest.Digest
	for i, b := range bs {
		if !ok[i] {
			r.p.Report.Failures++
			continue
		}
		gone = append(gone, b.Digest)
		r.countBlob(b, orphan)
	}
	if len(gone) == 0 {
		return ctx.Err()
	}
	return r.c.meta.ForgetBlobs(context.WithoutCancel(ctx), gone)
}

// tombstones finishes the deletions an interrupted run left.
func (r *run) tombstones(ctx context.Context) error {
	if r.dry {
		return nil
	}
	for {
		page, err := r.c.meta.DeletingBlobs(ctx, digest.Digest(r.p.Cursor), r.c.opts.BatchSize)
		if err != nil || len(page) == 0 {
			return err
		}
		if len(page) > 0 {
			r.log.Info("gc: finishing interrupted blob deletions", "count", len(page))
		}
		if err := r.deleteBlobs(ctx, page, false); err != nil {
			return err
		}
		r.p.Cursor = page[len(page)-1].Digest.String()
		if err := r.checkpoint(ctx); err != nil {
			return err
		}
	}
}
