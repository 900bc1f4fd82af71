package vulndb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/scan"
)

// Source is where the database artifact is read from: the registry
// service, so a proxied repository fetches it from its upstream.
type Source interface {
	GetManifest(ctx context.Context, repo, ref string) (*meta.Manifest, error)
	OpenBlob(ctx context.Context, repo string, dgst digest.Digest) (io.ReadCloser, error)
}

// Loader keeps the newest database of a repository loaded. Every
// instance runs its own (the index is in memory); the artifact itself is
// in the shared storage, so all instances load the same versions.
type Loader struct {
	src       Source
	repo, tag string
	set       func(*scan.Database)
	onNew     func(ctx context.Context, version string)
	log       *slog.Logger

	mu      sync.Mutex
	current digest.Digest
}

// NewLoader returns a loader of repo:tag; set installs each newly loaded
// database, and onNew (may be nil) is told about each new version.
func NewLoader(src Source, repo, tag string, set func(*scan.Database), onNew func(ctx context.Context, version string), log *slog.Logger) *Loader {
	return &Loader{src: src, repo: repo, tag: tag, set: set, onNew: onNew, log: log}
}

// Load loads the tagged artifact if it is not the loaded one.
func (l *Loader) Load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, err := l.src.GetManifest(ctx, l.repo, l.tag)
	if err != nil {
		return err
	}
	if m.Digest == l.current {
		return nil
	}
	start := time.Now()
	ix, skipped, err := Load(ctx, m.Content, func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		return l.src.OpenBlob(ctx, l.repo, d)
	})
	if err != nil {
		return err
	}
	l.current = m.Digest
	l.set(&scan.Database{Matcher: ix, Version: ix.Version, BuiltAt: ix.BuiltAt, LoadedAt: time.Now().UTC(), Advisories: ix.Advisories()})
	l.log.Info("vulnerability database loaded", "digest", m.Digest, "advisories", ix.Advisories(), "skipped", skipped,
		"built_at", ix.BuiltAt, "duration", time.Since(start))
	if l.onNew != nil {
		l.onNew(ctx, ix.Version)
	}
	return nil
}

// Run loads the newest database now and then every interval until ctx ends.
func (l *Loader) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := l.Load(ctx); err != nil && ctx.Err() == nil {
			level := slog.LevelWarn
			if errors.Is(err, registry.ErrManifestUnknown) || errors.Is(err, registry.ErrNameUnknown) {
				level = slog.LevelDebug // not imported yet
			}
			l.log.Log(ctx, level, "vulnerability database not loaded", "repo", l.repo, "tag", l.tag, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
