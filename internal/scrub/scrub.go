// Package scrub checks stored content against the metadata: it re-hashes
// every blob the metadata store records and reports each whose file is
// missing, has another size, or no longer matches its digest. It changes
// nothing unless asked to repair:
//
//   - a corrupt file is moved to quarantine/<algorithm>/<hex> (kept for
//     inspection, never served);
//   - the blob of a corrupt or missing file is dropped from the metadata
//     (its row and every repository's link), so the registry answers
//     BLOB_UNKNOWN for it instead of serving bad bytes, and a client that
//     pushes the image again uploads the blob again (a HEAD no longer says
//     it exists). The report names the manifests that reference it: those
//     images stay broken until their blobs are pushed again.
//
// A run goes through the blobs in digest order, in batches hashed in
// parallel, saving its progress after each batch, so an interrupted run
// resumes (see package jobs).
package scrub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/jobs"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/storage"
)

// JobName is the scrub's background job.
const JobName = "scrub"

// Options tune the scrubber.
type Options struct {
	// Parallelism is how many blobs are hashed at once. Default 4.
	Parallelism int
	// BatchSize is how many blobs are read from the metadata at once. Default 256.
	BatchSize int
}

// Scrubber checks stored blobs.
type Scrubber struct {
	meta  meta.Store
	blobs *storage.Blobs
	opts  Options
	log   *slog.Logger
}

// New returns a scrubber.
func New(m meta.Store, b *storage.Blobs, opts Options, log *slog.Logger) *Scrubber {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 4
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scrubber{meta: m, blobs: b, opts: opts, log: log}
}

// Finding is one blob that failed the check.
type Finding struct {
	Digest  digest.Digest `json:"digest"`
	Size    int64         `json:"size"`
	Problem string        `json:"problem"` // "missing", "size ..." or "content has digest ..."
	// Manifests (repository@digest) referencing it, when repaired.
	Manifests []string `json:"manifests,omitempty"`
}

// maxFindings bounds the findings a report lists (the counts go on).
const maxFindings = 1000

// Report is what a scrub found (and repaired).
type Report struct {
	Repair     bool      `json:"repair"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Duration   float64   `json:"duration_seconds"`
	Checked    int64     `json:"checked"`
	Bytes      int64     `json:"bytes"`
	Missing    int64     `json:"missing"`
	Corrupt    int64     `json:"corrupt"`
	// Repaired: blobs dropped from the metadata (and quarantined when corrupt).
	Repaired  int64     `json:"repaired"`
	Findings  []Finding `json:"findings,omitempty"`
	Truncated bool      `json:"truncated,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// OK reports whether nothing was found wrong.
func (r *Report) OK() bool { return r.Missing == 0 && r.Corrupt == 0 && r.Error == "" }

type progress struct {
	Cursor digest.Digest `json:"cursor"`
	Report Report        `json:"report"`
}

// Request holds the parameters of an on-demand scrub.
type Request struct {
	Repair bool `json:"repair"`
}

// NewAPI returns the scrub's management endpoints (POST and GET
// /api/v1/scrub, body {"repair": true} optional).
func NewAPI(s *jobs.Scheduler) *jobs.API[Request, Report] {
	return &jobs.API[Request, Report]{Jobs: s, Name: JobName, Progress: func(saved string) (*Report, string) {
		var p progress
		if json.Unmarshal([]byte(saved), &p) != nil {
			return nil, ""
		}
		return &p.Report, ""
	}}
}

// Job is the scrub as a background job, every interval (0: on demand only).
// observe, if set, gets every finished run's report (for metrics).
func (s *Scrubber) Job(interval time.Duration, observe func(Report, error)) jobs.Job {
	return jobs.Job{Name: JobName, Interval: interval, Run: func(ctx context.Context, r *jobs.Run) (string, error) {
		var req Request
		if r.Request != "" {
			json.Unmarshal([]byte(r.Request), &req)
		}
		rep, err := s.Run(ctx, req.Repair, r.Progress, r.Save)
		if observe != nil && ctx.Err() == nil {
			observe(rep, err)
		}
		b, _ := json.Marshal(rep)
		return string(b), err
	}}
}

// Run checks every stored blob (resuming from resume when not empty) and,
// with repair, repairs what it can.
func (s *Scrubber) Run(ctx context.Context, repair bool, resume string, save func(context.Context, string) error) (Report, error) {
	start := time.Now()
	var p progress
	if resume == "" || json.Unmarshal([]byte(resume), &p) != nil || p.Report.Repair != repair {
		p = progress{Report: Report{Repair: repair, StartedAt: start}}
	}
	elapsed := p.Report.Duration
	err := s.all(ctx, &p, save)
	rep := p.Report
	rep.Duration = elapsed + time.Since(start).Seconds()
	if err != nil {
		rep.Error = err.Error()
		return rep, err
	}
	rep.FinishedAt = time.Now()
	level := slog.LevelInfo
	if !rep.OK() {
		level = slog.LevelError
	}
	s.log.Log(ctx, level, "scrub finished", "checked", rep.Checked, "bytes", rep.Bytes, "missing", rep.Missing,
		"corrupt", rep.Corrupt, "repaired", rep.Repaired, "duration", time.Since(start))
	return rep, nil
}

func (s *Scrubber) all(ctx context.Context, p *progress, save func(context.Context, string) error) error {
	for {
		page, err := s.meta.Blobs(ctx, p.Cursor, s.opts.BatchSize)
		if err != nil || len(page) == 0 {
			return err
		}
		problems := s.check(ctx, page)
		if err := ctx.Err(); err != nil {
			return err
		}
		for i, b := range page {
			p.Report.Checked++
			p.Report.Bytes += b.Size
			if problems[i] == "" {
				continue
			}
			f := Finding{Digest: b.Digest, Size: b.Size, Problem: problems[i]}
			missing := problems[i] == "missing"
			if missing {
				p.Report.Missing++
			} else {
				p.Report.Corrupt++
			}
			s.log.Error("scrub: blob failed its check", "digest", b.Digest.String(), "problem", f.Problem)
			if p.Report.Repair {
				refs, err := s.repair(ctx, b.Digest, missing)
				if err != nil {
					return err
				}
				p.Report.Repaired++
				for _, m := range refs {
					f.Manifests = append(f.Manifests, m.Repository+"@"+m.Digest.String())
				}
			}
			if len(p.Report.Findings) < maxFindings {
				p.Report.Findings = append(p.Report.Findings, f)
			} else {
				p.Report.Truncated = true
			}
		}
		p.Cursor = page[len(page)-1].Digest
		if save != nil {
			b, _ := json.Marshal(p)
			if err := save(ctx, string(b)); err != nil {
				return err
			}
		}
	}
}

// check hashes the blobs in parallel and returns each one's problem ("" if none).
func (s *Scrubber) check(ctx context.Context, bs []meta.Blob) []string {
	out := make([]string, len(bs))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(s.opts.Parallelism, len(bs)) {
		wg.Go(func() {
			for i := range work {
				out[i] = s.checkOne(ctx, bs[i])
			}
		})
	}
	for i := range bs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}

func (s *Scrubber) checkOne(ctx context.Context, b meta.Blob) string {
	rc, err := s.blobs.Open(ctx, b.Digest, 0)
	if errors.Is(err, storage.ErrNotFound) {
		return "missing"
	}
	if err != nil {
		return "unreadable: " + err.Error()
	}
	defer rc.Close()
	h, err := oci.NewHash(b.Digest.Algorithm())
	if err != nil {
		return "unsupported digest: " + err.Error()
	}
	n, err := io.Copy(h, rc)
	if err != nil {
		if ctx.Err() != nil {
			return ""
		}
		return "unreadable: " + err.Error()
	}
	if n != b.Size {
		return fmt.Sprintf("size %d, the metadata says %d", n, b.Size)
	}
	if got := digest.NewDigest(b.Digest.Algorithm(), h); got != b.Digest {
		return "content has digest " + got.String()
	}
	return ""
}

// QuarantinePath is where repair moves a corrupt blob file.
func QuarantinePath(d digest.Digest) string {
	return "quarantine/" + string(d.Algorithm()) + "/" + d.Encoded()
}

// repair quarantines a corrupt file and drops the blob from the metadata.
func (s *Scrubber) repair(ctx context.Context, d digest.Digest, missing bool) ([]meta.ManifestRef, error) {
	if !missing {
		if err := s.blobs.Driver().Move(ctx, storage.BlobPath(d), QuarantinePath(d)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("quarantine %s: %w", d, err)
		}
	}
	refs, err := s.meta.DropBlobs(ctx, []digest.Digest{d})
	if err != nil {
		return nil, err
	}
	s.log.Warn("scrub: repaired blob (dropped from the metadata; push the images again)", "digest", d.String(),
		"quarantined", !missing, "manifests", len(refs))
	return refs, nil
}
