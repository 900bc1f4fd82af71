package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/storage"
)

// Exit codes of `berth import`.
const (
	exitImportFailed   = 1 // the import stopped (run it again: it resumes)
	exitImportDangling = 2 // complete, but dangling links or unsupported manifests were left out
	exitImportPartial  = 3 // --phase manifests done; the tags phase is still to run
)

const importUsage = `usage: berth import [--dry-run] [--phase manifests|tags] --from CONFIG_OR_DIR [--config FILE] [--data DIR]
  --from CONFIG   Distribution's config.yml: its storage is adopted in place and, without --config, it is Berth's configuration too
  --from DIR      Distribution's root directory (rootdirectory, holding docker/registry/v2)
Exit status: 0 complete, 2 complete with dangling links or unsupported manifests left out,
3 manifests phase done (tags still to import), 1 failed (run it again: it resumes).`

// importCommand is `berth import`: index a Distribution storage into
// Berth's database, in place (docs/migrate-from-distribution.md).
func importCommand(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, importUsage) }
	var o config.Overrides
	berthConfig := fs.String("config", lookup(env, "BERTH_CONFIG"), "Berth's configuration file (default: the --from configuration)")
	fs.StringVar(&o.Data, "data", "", "Berth's data directory")
	from := fs.String("from", "", "Distribution's configuration file or root directory")
	dry := fs.Bool("dry-run", false, "read Distribution's storage and report; write nothing")
	phase := fs.String("phase", "", "manifests (blobs and manifests, while Distribution still runs) or tags; default both")
	every := fs.Duration("progress-every", 5*time.Second, "how often progress is shown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *from == "" {
		fmt.Fprintln(stderr, importUsage)
		return errors.New("import: --from is required")
	}
	opts := distribution.Options{Phase: distribution.Phase(*phase)}
	switch opts.Phase {
	case distribution.PhaseAll, distribution.PhaseManifests, distribution.PhaseTags:
	default:
		return fmt.Errorf("import: --phase %q: manifests or tags", *phase)
	}
	cfg, note, err := importConfig(*from, *berthConfig, env, o)
	if err != nil {
		return err
	}
	log := newLogger(config.Log{Level: "info", Format: cfg.Log.Format}, stderr)
	opts.Log = log.With("component", "import")
	opts.Progress, opts.ProgressEvery = progressPrinter(stderr, log), *every
	var rep *distribution.ImportReport
	if *dry {
		rep, err = app.DryRunImport(ctx, cfg, opts)
	} else {
		cfg.Log.Level = "warn"
		a, aerr := app.New(ctx, cfg, newLogger(cfg.Log, stderr))
		if aerr != nil {
			return aerr
		}
		defer a.Close()
		rep, err = a.ImportDistribution(ctx, opts)
	}
	if rep != nil {
		printImport(stdout, rep)
	}
	if err != nil {
		return &exitError{code: exitImportFailed, err: fmt.Errorf("import: %w (run it again: it resumes where it stopped)", err)}
	}
	if note != "" && !*dry {
		fmt.Fprintln(stdout, note)
	}
	switch {
	case !rep.Complete:
		return &exitError{code: exitImportPartial, err: errors.New("import: manifests phase done; run `berth import --phase tags` (after stopping Distribution) to import the tags")}
	case rep.Dangling+rep.Unsupported > 0:
		return &exitError{code: exitImportDangling, err: fmt.Errorf("import: complete, with %d dangling links and %d unsupported manifests left out (listed above)", rep.Dangling, rep.Unsupported)}
	}
	return nil
}

// importConfig is Berth's configuration for an import from from: a
// Distribution configuration file (Berth's configuration too, unless
// berthConfig names another) or Distribution's root directory. note tells
// how to serve what was imported when the configuration does not say it.
func importConfig(from, berthConfig string, env []string, o config.Overrides) (*config.Config, string, error) {
	fi, err := os.Stat(from)
	if err != nil {
		return nil, "", fmt.Errorf("import: --from: %w", err)
	}
	if !fi.IsDir() {
		data, err := os.ReadFile(from)
		if err != nil {
			return nil, "", err
		}
		if !distribution.IsDistribution(data) {
			return nil, "", fmt.Errorf("import: %s is not a Distribution configuration (version: 0.1)", from)
		}
		src, _, err := loadDistribution(from, env, o)
		if err != nil {
			return nil, "", err
		}
		if berthConfig == "" {
			return src, "", nil
		}
		cfg, _, err := loadConfig(berthConfig, env, o)
		if err != nil {
			return nil, "", err
		}
		if cfg.Storage.Driver != src.Storage.Driver || cfg.Storage.S3.Bucket != src.Storage.S3.Bucket {
			return nil, "", fmt.Errorf("import: Berth's storage (%s) must be Distribution's (%s, same bucket): blobs are read in place, never copied",
				cfg.Storage.Driver, src.Storage.Driver)
		}
		cfg.Storage.Distribution = src.Storage.Distribution
		return cfg, serveNote(cfg), nil
	}
	if _, err := os.Stat(filepath.Join(from, filepath.FromSlash(storage.DistributionRoot))); err != nil {
		return nil, "", fmt.Errorf("import: %s holds no Distribution storage (%s): %w", from, storage.DistributionRoot, err)
	}
	if berthConfig == "" && o.Data == "" && lookup(env, "BERTH_DATA") == "" {
		o.Data = filepath.Join(from, "berth") // as `berth serve` on Distribution's configuration
	}
	cfg, _, err := loadConfig(berthConfig, env, o)
	if err != nil {
		return nil, "", err
	}
	if cfg.Storage.Driver == "s3" {
		return nil, "", errors.New("import: --from DIR adopts a filesystem storage; Berth's storage is s3 (give Distribution's configuration instead)")
	}
	abs, _ := filepath.Abs(from)
	cfg.Storage.Distribution = config.Adoption{Enabled: true, Root: abs}
	return cfg, serveNote(cfg), nil
}

// serveNote says how to serve an import whose source only the command line named.
func serveNote(cfg *config.Config) string {
	a := cfg.Storage.Distribution
	return fmt.Sprintf("import: serve it with the adopted storage named in Berth's configuration: storage.distribution: {enabled: true, root: %q} "+
		"(or BERTH_STORAGE_DISTRIBUTION_ENABLED=true BERTH_STORAGE_DISTRIBUTION_ROOT=%s), data: %s", a.Root, a.Root, cfg.Data)
}

// progressPrinter shows progress: a line rewritten in place on a
// terminal, else a log line (every 5 seconds).
func progressPrinter(stderr io.Writer, log *slog.Logger) func(distribution.Progress) {
	f, ok := stderr.(*os.File)
	tty := false
	if ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(p distribution.Progress) {
		if !tty {
			log.Info("import: progress", "phase", p.Phase, "repositories_done", p.RepositoriesDone, "repositories", p.Repositories,
				"manifests", p.Manifests, "elapsed", p.Elapsed.Round(time.Second).String())
			return
		}
		const width = 30
		n := 0
		if p.Repositories > 0 {
			n = width * p.RepositoriesDone / p.Repositories
		}
		fmt.Fprintf(f, "\r%-9s [%s%s] %d/%d repositories, %d manifests, %s ", p.Phase, strings.Repeat("=", n), strings.Repeat(" ", width-n),
			p.RepositoriesDone, p.Repositories, p.Manifests, p.Elapsed.Round(time.Second))
	}
}

func printImport(w io.Writer, r *distribution.ImportReport) {
	for _, p := range r.Problems {
		fmt.Fprintln(w, p)
	}
	if n := r.Dangling + r.Unsupported; n > len(r.Problems) {
		fmt.Fprintf(w, "... and %d more problems\n", n-len(r.Problems))
	}
	verb := "imported"
	if r.DryRun {
		verb = "would import"
	}
	fmt.Fprintf(w, "import: %s %d repositories: %d manifests (%d already there), %d blob links, %d tags; %d dangling links, %d unsupported manifests; %.1fs\n",
		verb, r.Repositories, r.Manifests, r.Existing, r.BlobLinks, r.Tags, r.Dangling, r.Unsupported, r.Seconds)
}
