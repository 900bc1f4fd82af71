package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

// Adoption of a Distribution (registry:2) storage in place
// (docs/migrate-from-distribution.md).

// detectDistribution turns adoption on for a filesystem data directory
// that holds Distribution's layout: the registry:2 volume mounted where the
// image keeps its data (/var/lib/registry), with no configuration naming it.
func detectDistribution(cfg *config.Config) {
	s := &cfg.Storage
	if s.Distribution.Enabled || s.Driver == "s3" {
		return
	}
	if fi, err := os.Stat(filepath.Join(cfg.Data, filepath.FromSlash(storage.DistributionRoot))); err == nil && fi.IsDir() {
		s.Distribution = config.Adoption{Enabled: true, Root: cfg.Data}
	}
}

// openAdopted opens the driver rooted at the adopted Distribution storage:
// the same driver (and bucket) as Berth's own, at Distribution's root.
func openAdopted(ctx context.Context, c config.Storage) (storage.Driver, error) {
	if c.Driver == "s3" {
		c.S3.Prefix = c.Distribution.Root
		return openStorage(ctx, c)
	}
	if _, err := os.Stat(c.Distribution.Root); err != nil {
		return nil, fmt.Errorf("storage.distribution.root: %w", err)
	}
	return filesystem.New(c.Distribution.Root)
}

// adoptedSource names the adopted storage in the import's records.
func adoptedSource(c config.Storage) string {
	if c.Driver == "s3" {
		return "s3:" + c.S3.Bucket + "/" + c.Distribution.Root
	}
	root, err := filepath.Abs(c.Distribution.Root)
	if err != nil {
		root = c.Distribution.Root
	}
	return "filesystem:" + root
}

// AdoptDistribution imports the adopted Distribution storage into the
// database unless an earlier import completed: `berth serve` calls it
// before it listens, so a registry:2 installation is taken over by
// starting Berth on it. Problems (dangling links) are logged, not fatal.
func (a *App) AdoptDistribution(ctx context.Context) error {
	if a.blobs.Adopted() == nil {
		return nil
	}
	done, err := distribution.Adopted(ctx, a.meta, adoptedSource(a.cfg.Storage))
	if err != nil || done {
		return err
	}
	a.log.Info("adopting Distribution's storage in place: indexing its repositories, manifests and tags (resumable; `berth import` does the same beforehand)",
		"root", a.cfg.Storage.Distribution.Root)
	rep, err := a.ImportDistribution(ctx, distribution.Options{
		Progress: func(p distribution.Progress) {
			a.log.Info("adopting Distribution's storage", "phase", p.Phase, "repositories_done", p.RepositoriesDone,
				"repositories", p.Repositories, "manifests", p.Manifests)
		},
	})
	if errors.Is(err, meta.ErrConflict) {
		// Another instance (scale-out) is importing: serve what is there;
		// its import completes the rest.
		a.log.Warn("another instance is adopting Distribution's storage; serving meanwhile", "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("adopting Distribution's storage (run `berth import --from CONFIG` to see the details): %w", err)
	}
	LogImport(a.log, rep)
	return nil
}

// ImportDistribution runs an import of the adopted storage into a's
// database (`berth import`).
func (a *App) ImportDistribution(ctx context.Context, opts distribution.Options) (*distribution.ImportReport, error) {
	src := a.blobs.Adopted()
	if src == nil {
		return nil, fmt.Errorf("import: no Distribution storage configured (storage.distribution)")
	}
	if opts.Log == nil {
		opts.Log = a.log.With("component", "import")
	}
	opts.Source = adoptedSource(a.cfg.Storage)
	return distribution.NewImporter(distribution.NewSource(src), a.meta, opts).Run(ctx)
}

// DryRunImport reads the Distribution storage cfg names and reports what
// an import would do. It opens neither the database nor Berth's storage,
// and writes nothing.
func DryRunImport(ctx context.Context, cfg *config.Config, opts distribution.Options) (*distribution.ImportReport, error) {
	detectDistribution(cfg)
	if !cfg.Storage.Distribution.Enabled {
		return nil, fmt.Errorf("import: no Distribution storage configured (storage.distribution)")
	}
	src, err := openAdopted(ctx, cfg.Storage)
	if err != nil {
		return nil, err
	}
	opts.Source = adoptedSource(cfg.Storage)
	return distribution.NewImporter(distribution.NewSource(src), nil, opts).Run(ctx)
}

// LogImport logs an import's outcome, one line per problem listed.
func LogImport(log *slog.Logger, rep *distribution.ImportReport) {
	for _, p := range rep.Problems {
		log.Warn("import: "+p.Kind, "repo", p.Repo, "ref", p.Ref, "target", p.Target, "reason", p.Reason)
	}
	log.Info("import done", "repositories", rep.Repositories, "manifests", rep.Manifests, "existing", rep.Existing,
		"blob_links", rep.BlobLinks, "tags", rep.Tags, "dangling", rep.Dangling, "unsupported", rep.Unsupported,
		"complete", rep.Complete, "seconds", rep.Seconds)
}
