package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/berth-registry/berth/internal/meta"
)

// Names of the scanning jobs (internal/jobs).
const (
	JobScanAll = "scan-all"
	JobRescan  = "scan-rescan"
)

// stopKey is where a stop of "scan all" is asked for, beside the
// policies (no project can be named so).
const stopKey = "!scan-all-stop"

// Catalog lists the tagged images to scan (meta.Store).
type Catalog interface {
	Repositories(ctx context.Context, last string, n int) ([]string, error)
	Tags(ctx context.Context, repo, last string, n int) ([]string, error)
	ResolveTag(ctx context.Context, repo, tag string) (digest.Digest, error)
}

// JobReport is the report of a scan-all or rescan run.
type JobReport struct {
	Scanned int  `json:"scanned"`
	Failed  int  `json:"failed"`
	Stopped bool `json:"stopped,omitempty"`
}

// JobRequest is the request of a run.
type JobRequest struct {
	// Version is the database version a rescan is for.
	Version string `json:"version,omitempty"`
}

// Run is one run of a scanning job (internal/jobs runs them with a
// lease, on one instance): its request, the progress saved by the run it
// resumes, and how to save progress.
type Run struct {
	Request  string
	Progress string
	Save     func(ctx context.Context, progress string) error
}

// ScanAll scans every tagged image, at most concurrency at once, one
// repository after the other (the progress saved), until done or a stop
// is asked for (RequestStop).
func (s *Service) ScanAll(ctx context.Context, r Run, cat Catalog, concurrency int) (string, error) {
	return s.scanAll(ctx, r, cat, max(concurrency, 1))
}

// RescanAll matches every stored package list against the loaded
// database again, at most concurrency at once (after a new version).
func (s *Service) RescanAll(ctx context.Context, r Run, concurrency int) (string, error) {
	return s.rescanAll(ctx, r, max(concurrency, 1))
}

// RequestStop asks a running scan-all to stop after its current page.
func (s *Service) RequestStop(ctx context.Context) error {
	return s.store.PutScanPolicy(ctx, stopKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
}

func (s *Service) stopRequested(ctx context.Context, since time.Time) bool {
	data, err := s.store.ScanPolicy(ctx, stopKey)
	if err != nil {
		return false
	}
	t, err := time.Parse(time.RFC3339Nano, string(data))
	return err == nil && t.After(since)
}

type progress struct {
	After string    `json:"after"`
	Since time.Time `json:"since"`
	JobReport
}

func loadProgress(r Run) progress {
	var p progress
	if r.Progress != "" {
		json.Unmarshal([]byte(r.Progress), &p)
	}
	if p.Since.IsZero() {
		p.Since = time.Now().UTC()
	}
	return p
}

func (p progress) report() (string, error) {
	b, err := json.Marshal(p.JobReport)
	return string(b), err
}

// each runs fn over items, at most n at once, counting the outcomes.
func each[T any](ctx context.Context, n int, items []T, rep *JobReport, fn func(context.Context, T) error) error {
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(n)
	var stop atomic.Bool
	for _, it := range items {
		g.Go(func() error {
			if ctx.Err() != nil || stop.Load() {
				return ctx.Err()
			}
			err := fn(ctx, it)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil || errors.Is(err, ErrNotScannable) || errors.Is(err, meta.ErrNotFound):
				rep.Scanned++
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, ErrNoDatabase):
				stop.Store(true)
				return err
			default:
				rep.Failed++
			}
			return nil
		})
	}
	return g.Wait()
}

const page = 100

func (s *Service) scanAll(ctx context.Context, r Run, cat Catalog, n int) (string, error) {
	p := loadProgress(r)
	for {
		if s.stopRequested(ctx, p.Since) {
			p.Stopped = true
			return p.report()
		}
		repos, err := cat.Repositories(ctx, p.After, page)
		if err != nil {
			rep, _ := p.report()
			return rep, err
		}
		if len(repos) == 0 {
			return p.report()
		}
		for _, repo := range repos {
			var refs []digest.Digest
			seen := map[digest.Digest]bool{}
			last := ""
			for {
				tags, err := cat.Tags(ctx, repo, last, page)
				if err != nil || len(tags) == 0 {
					break
				}
				for _, t := range tags {
					if d, err := cat.ResolveTag(ctx, repo, t); err == nil && !seen[d] {
						seen[d] = true
						refs = append(refs, d)
					}
				}
				last = tags[len(tags)-1]
			}
			if err := each(ctx, n, refs, &p.JobReport, func(ctx context.Context, d digest.Digest) error {
				_, err := s.Scan(ctx, repo, d)
				return err
			}); err != nil {
				rep, _ := p.report()
				return rep, err
			}
			p.After = repo
			b, _ := json.Marshal(p)
			if err := r.Save(ctx, string(b)); err != nil {
				rep, _ := p.report()
				return rep, err
			}
		}
	}
}

func (s *Service) rescanAll(ctx context.Context, r Run, n int) (string, error) {
	var req JobRequest
	json.Unmarshal([]byte(r.Request), &req)
	if s.opts.Refresh != nil && req.Version != "" && s.Database().Version != req.Version {
		if err := s.opts.Refresh(ctx); err != nil {
			return "", fmt.Errorf("loading the vulnerability database: %w", err)
		}
	}
	p := loadProgress(r)
	for {
		ds, err := s.store.ScanPackageDigests(ctx, digest.Digest(p.After), page)
		if err != nil {
			rep, _ := p.report()
			return rep, err
		}
		if len(ds) == 0 {
			return p.report()
		}
		if err := each(ctx, n, ds, &p.JobReport, s.Rescan); err != nil {
			rep, _ := p.report()
			return rep, err
		}
		p.After = ds[len(ds)-1].String()
		b, _ := json.Marshal(p)
		if err := r.Save(ctx, string(b)); err != nil {
			rep, _ := p.report()
			return rep, err
		}
	}
}
