package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/storage"
)

// JobName is the job whose row keeps an import's progress (resume after a
// crash) and its last report.
const JobName = "distribution-import"

// Phase selects what an import run does.
type Phase string

// Phases, after GitLab's registry importer: the manifests phase indexes
// blobs and manifests (immutable: safe while Distribution still serves and
// takes pushes, and repeatable); the tags phase points the tags (after
// Distribution is stopped or read-only), importing first any manifest
// pushed since.
const (
	PhaseAll       Phase = "" // both, in one pass over the repositories
	PhaseManifests Phase = "manifests"
	PhaseTags      Phase = "tags"
)

// phaseBoth is PhaseAll in a run's saved state.
const phaseBoth Phase = "all"

// Store is what an import writes to (nil on a dry run).
type Store interface {
	meta.JobStore
	meta.AdoptStore
}

// Options configure an import.
type Options struct {
	Phase Phase
	// Progress is called every ProgressEvery (default 5s) during a run.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Owner names this importer in the job's lease (DefaultOwner()).
	Owner string
	// Source names the storage imported ("filesystem:/var/lib/registry",
	// "s3:bucket/prefix"): a finished import counts as adoption of that
	// storage only (see Adopted).
	Source string
	Log    *slog.Logger
}

// Progress is where a run is.
type Progress struct {
	Phase            Phase         `json:"phase"`
	Repositories     int           `json:"repositories"`
	RepositoriesDone int           `json:"repositories_done"`
	Manifests        int           `json:"manifests"`
	Elapsed          time.Duration `json:"-"`
}

// ImportReport is what a run did (or, on a dry run, would do).
type ImportReport struct {
	// Source names the storage imported (Options.Source).
	Source       string `json:"source,omitempty"`
	DryRun       bool   `json:"dry_run"`
	Resumed      bool   `json:"resumed,omitempty"`
	Repositories int    `json:"repositories"`
	// Manifests imported, or already there (imported by an earlier run).
	Manifests int `json:"manifests"`
	Existing  int `json:"existing"`
	BlobLinks int `json:"blob_links"`
	Tags      int `json:"tags"`
	// Problems lists the first MaxProblems; Dangling and Unsupported count all.
	Problems    []Problem `json:"problems,omitempty"`
	Dangling    int       `json:"dangling"`
	Unsupported int       `json:"unsupported"`
	// Complete: every phase ran to the end (a manifests-only run is not).
	Complete bool    `json:"complete"`
	Seconds  float64 `json:"seconds"`
}

// MaxProblems bounds the problems a report lists.
const MaxProblems = 1000

// state is the job's saved progress: the phase and the last repository
// (in name order) finished in it.
type state struct {
	Phase  Phase         `json:"phase"`
	Cursor string        `json:"cursor"`
	Report *ImportReport `json:"report"`
}

// DefaultOwner names the importer of this host: a run killed on it is
// resumed by the next at once, without waiting for its lease to expire.
func DefaultOwner() string {
	h, _ := os.Hostname()
	return "import@" + h
}

const leaseTTL = 2 * time.Minute

// Importer indexes a Distribution storage into Berth's metadata database.
type Importer struct {
	src   *Source
	store Store // nil: dry run
	opts  Options
	log   *slog.Logger
	sizes map[digest.Digest]int64 // blob sizes seen; -1: missing
	seen  map[Problem]bool        // problems reported (the tags phase meets them again)
	// dry holds, on a dry run, the manifests the run would have imported
	// (by repository): what the store would answer.
	dry   map[string]map[digest.Digest]bool
	start time.Time

	mu   sync.Mutex // guards rep and prog, read by the progress ticker
	rep  *ImportReport
	prog Progress
}

// NewImporter imports src into store; with a nil store it is a dry run
// that reads the source, reports, and writes nothing.
func NewImporter(src *Source, store Store, opts Options) *Importer {
	if opts.Owner == "" {
		opts.Owner = DefaultOwner()
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = 5 * time.Second
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Importer{src: src, store: store, opts: opts, log: log, sizes: map[digest.Digest]int64{}, seen: map[Problem]bool{},
		dry: map[string]map[digest.Digest]bool{}}
}

// Adopted reports whether an import of source into store finished (a
// later run may still pick up what Distribution received since). A
// database that imported another storage has not adopted this one.
func Adopted(ctx context.Context, store meta.JobStore, source string) (bool, error) {
	j, err := store.Job(ctx, JobName)
	if err != nil {
		return false, err
	}
	if j.Running || j.FinishedAt.IsZero() {
		return false, nil
	}
	var r ImportReport
	return json.Unmarshal([]byte(j.Report), &r) == nil && r.Complete && r.Source == source, nil
}

// Run imports: the phases asked for, resuming a run that was interrupted.
// Problems (dangling links, unsupported manifests) are in the report, not
// errors.
func (im *Importer) Run(ctx context.Context) (*ImportReport, error) {
	im.start = time.Now()
	st := state{Phase: im.opts.Phase, Report: &ImportReport{DryRun: im.store == nil, Source: im.opts.Source}}
	if st.Phase == PhaseAll {
		st.Phase = phaseBoth
	}
	if im.store != nil {
		j, err := im.store.AcquireJob(ctx, JobName, im.opts.Owner, leaseTTL)
		if err != nil {
			return nil, fmt.Errorf("import: %w (another import runs; it holds the lease for up to %s)", err, leaseTTL)
		}
		defer im.store.ReleaseJob(context.WithoutCancel(ctx), JobName, im.opts.Owner)
		var saved state
		// A run asked for both phases resumes any; a run of one phase, only that one.
		if j.Running && json.Unmarshal([]byte(j.Progress), &saved) == nil && saved.Report != nil &&
			saved.Report.Source == im.opts.Source && (im.opts.Phase == PhaseAll || saved.Phase == st.Phase) {
			st = saved
			st.Report.Resumed = true
			for _, p := range st.Report.Problems {
				im.seen[p] = true
			}
			im.log.Info("import: resuming an interrupted run", "phase", st.Phase, "after", st.Cursor)
		} else if err := im.store.StartJob(ctx, JobName, im.opts.Owner, im.encode(st)); err != nil {
			return nil, err
		}
	}
	im.rep = st.Report
	repos, problems, err := im.src.Scan(ctx)
	if err != nil {
		return im.rep, err
	}
	if !st.Report.Resumed {
		for _, p := range problems {
			im.problem(p)
		}
	}
	im.rep.Repositories = len(repos)
	stop := im.ticker()
	defer stop()
	for {
		if err := im.phase(ctx, repos, &st); err != nil {
			return im.finishReport(), err
		}
		if st.Phase != PhaseManifests || im.opts.Phase == PhaseManifests {
			break
		}
		// A resumed manifests phase is followed by the tags.
		st.Phase, st.Cursor = PhaseTags, ""
		if err := im.save(ctx, st); err != nil {
			return im.finishReport(), err
		}
	}
	stop()
	rep := im.finishReport()
	if im.store == nil {
		rep.Complete = im.opts.Phase != PhaseManifests
		return rep, nil
	}
	if im.opts.Phase == PhaseManifests {
		// The tags phase is still to run: keep the run open at its start.
		st.Phase, st.Cursor = PhaseTags, ""
		return rep, im.save(ctx, st)
	}
	rep.Complete = true
	if len(rep.Problems) > MaxProblems {
		rep.Problems = rep.Problems[:MaxProblems]
	}
	b, _ := json.Marshal(rep)
	return rep, im.store.FinishJob(context.WithoutCancel(ctx), JobName, im.opts.Owner, string(b))
}

func (im *Importer) finishReport() *ImportReport {
	im.rep.Seconds = time.Since(im.start).Seconds()
	return im.rep
}

// phase runs st.Phase over the repositories after st.Cursor, saving the
// cursor now and then (a repository is imported again after a crash:
// everything it writes is idempotent).
func (im *Importer) phase(ctx context.Context, repos []*Repository, st *state) error {
	im.mu.Lock()
	im.prog = Progress{Phase: st.Phase, Repositories: len(repos)}
	im.mu.Unlock()
	im.log.Info("import: phase", "phase", st.Phase, "repositories", len(repos))
	saved := time.Now()
	for _, r := range repos {
		if err := ctx.Err(); err != nil {
			return err
		}
		if st.Cursor != "" && r.Name <= st.Cursor {
			im.count(func(*ImportReport) { im.prog.RepositoriesDone++ })
			continue
		}
		if err := im.repository(ctx, r, st.Phase != PhaseTags, st.Phase != PhaseManifests); err != nil {
			return fmt.Errorf("import %s: %w", r.Name, err)
		}
		im.count(func(*ImportReport) { im.prog.RepositoriesDone++ })
		st.Cursor = r.Name
		if time.Since(saved) >= time.Second {
			if err := im.save(ctx, *st); err != nil {
				return err
			}
			saved = time.Now()
		}
	}
	return im.save(ctx, *st)
}

func (im *Importer) save(ctx context.Context, st state) error {
	if im.store == nil {
		return nil
	}
	if _, err := im.store.AcquireJob(ctx, JobName, im.opts.Owner, leaseTTL); err != nil {
		return err
	}
	return im.store.SaveJobProgress(ctx, JobName, im.opts.Owner, im.encode(st))
}

func (im *Importer) encode(st state) string {
	if st.Report != nil && len(st.Report.Problems) > MaxProblems {
		st.Report.Problems = st.Report.Problems[:MaxProblems]
	}
	b, _ := json.Marshal(st)
	return string(b)
}

// ticker calls the progress callback every ProgressEvery until stopped.
func (im *Importer) ticker() (stop func()) {
	if im.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(im.opts.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				im.opts.Progress(im.progressNow())
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}

func (im *Importer) progressNow() Progress {
	im.mu.Lock()
	defer im.mu.Unlock()
	p := im.prog
	p.Manifests = im.rep.Manifests
	p.Elapsed = time.Since(im.start)
	return p
}

// count updates the report (and so the progress) under the lock.
func (im *Importer) count(f func(r *ImportReport)) {
	im.mu.Lock()
	f(im.rep)
	im.mu.Unlock()
}

func (im *Importer) problem(p Problem) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.seen[p] {
		return
	}
	im.seen[p] = true
	switch p.Kind {
	case ProblemUnsupported:
		im.rep.Unsupported++
	default:
		im.rep.Dangling++
	}
	if len(im.rep.Problems) < MaxProblems {
		im.rep.Problems = append(im.rep.Problems, p)
	}
}

// blobSize is the size of blob d, or -1 when its bytes are missing.
func (im *Importer) blobSize(ctx context.Context, d digest.Digest) (int64, error) {
	if n, ok := im.sizes[d]; ok {
		return n, nil
	}
	n, err := im.src.BlobSize(ctx, d)
	if errors.Is(err, storage.ErrNotFound) {
		n, err = -1, nil
	}
	if err != nil {
		return 0, err
	}
	im.sizes[d] = n
	return n, nil
}

// manifest reads and parses revision d of repo with the registry's own
// parser (no Content-Type: Distribution stores none, so the mediaType
// field or the document's shape tells the type, as for a push without one).
func (im *Importer) manifest(ctx context.Context, repo string, d digest.Digest) (*meta.Manifest, *Problem, error) {
	body, err := im.src.Blob(ctx, d)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, &Problem{Kind: ProblemManifest, Repo: repo, Ref: d.String(), Reason: "the manifest's bytes are missing from the blob store"}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if h, err := oci.NewHash(d.Algorithm()); err == nil {
		h.Write(body)
		if sum := digest.NewDigest(d.Algorithm(), h); sum != d {
			return nil, &Problem{Kind: ProblemManifest, Repo: repo, Ref: d.String(), Reason: "stored bytes have digest " + sum.String()}, nil
		}
	}
	m, err := registry.ParseManifest("", body)
	if err != nil {
		return nil, &Problem{Kind: ProblemUnsupported, Repo: repo, Ref: d.String(), Reason: err.Error()}, nil
	}
	m.Repository, m.Digest = repo, d
	return m, nil, nil
}
