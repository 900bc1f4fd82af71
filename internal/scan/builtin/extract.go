// Package builtin extracts the packages of an image with osv-scalibr's
// extractors, reading its layers straight from the blob store.
//
// The layers are streamed in order (gzip, zstd or plain tar). Only the
// files some extractor asks for (package databases, lock files, manifests,
// executables that may be Go binaries, jars) and the os-release files are
// written to a temporary directory, within a byte budget; whiteouts of
// upper layers remove them again, upper files replace lower ones. The
// extractors then run over that small tree, and each package is
// attributed to the layer its file came from.
package builtin

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan"
	"github.com/berth-registry/berth/internal/scan/layer"
)

// Blobs opens stored blobs (storage.Blobs).
type Blobs interface {
	Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error)
}

// Options bound an extraction.
type Options struct {
	// TempDir is where the temporary trees go ("" : the system's).
	TempDir string
	// MaxBytes bounds the temporary tree of one image (default 512 MiB).
	MaxBytes int64
	// MaxFileBytes: larger files are skipped (default 128 MiB).
	MaxFileBytes int64
	// Log receives scalibr's messages about single files (at debug level).
	Log *slog.Logger
}

// Extractor extracts the packages of images.
type Extractor struct {
	blobs Blobs
	opts  Options
	set   extractors
}

// New returns an extractor reading layers from blobs.
func New(blobs Blobs, opts Options) (*Extractor, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 512 << 20
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = 128 << 20
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	quietScalibr(opts.Log)
	set, err := newExtractors()
	if err != nil {
		return nil, err
	}
	return &Extractor{blobs: blobs, opts: opts, set: set}, nil
}

// Name identifies the extraction, stored beside each package list.
func (e *Extractor) Name() string { return "osv-scalibr/v0.5.3" }

// Extract returns the packages of an image made of layers (bottom first).
func (e *Extractor) Extract(ctx context.Context, layers []digest.Digest) ([]scan.Package, error) {
	dir, err := os.MkdirTemp(e.opts.TempDir, "berth-scan-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	t := layer.NewTree(dir, e.opts.MaxBytes, e.opts.MaxFileBytes, e.set.wanted)
	for _, l := range layers {
		if err := e.readLayer(ctx, t, l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
	}
	if t.Skipped > 0 {
		e.opts.Log.WarnContext(ctx, "scan: files left out of the extraction, over the temporary space budget (scan.max_temp_bytes)",
			"files", t.Skipped, "budget", e.opts.MaxBytes)
	}
	return e.set.run(ctx, dir, t.Files)
}

func (e *Extractor) readLayer(ctx context.Context, t *layer.Tree, l digest.Digest) error {
	rc, err := e.blobs.Open(ctx, l, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	return t.Apply(ctx, rc, l)
}

// fileAPI is what FileRequired sees of a tar entry.
type fileAPI struct {
	path string
	info fs.FileInfo
}

func (f fileAPI) Path() string               { return f.path }
func (f fileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }
