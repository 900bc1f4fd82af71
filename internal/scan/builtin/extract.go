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
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/scan"
)

// ErrBudget: the files the extractors need exceed the temporary space
// allowed for one image.
var ErrBudget = errors.New("builtin: extraction exceeds the temporary space budget")

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
	t := &tree{root: dir, budget: e.opts.MaxBytes, maxFile: e.opts.MaxFileBytes, files: map[string]file{}, set: e.set}
	for _, l := range layers {
		if err := e.readLayer(ctx, t, l); err != nil {
			return nil, fmt.Errorf("layer %s: %w", l, err)
		}
	}
	return e.set.run(ctx, dir, t.files)
}

func (e *Extractor) readLayer(ctx context.Context, t *tree, layer digest.Digest) error {
	rc, err := e.blobs.Open(ctx, layer, 0)
	if err != nil {
		return err
	}
	defer rc.Close()
	r, err := decompress(rc)
	if err != nil {
		return err
	}
	defer r.Close()
	return t.apply(ctx, tar.NewReader(r), layer)
}

// decompress sniffs the layer's compression: gzip, zstd or none.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr, nil
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// file is a kept file: where it came from, and its size in the budget.
type file struct {
	layer digest.Digest
	size  int64
}

// tree is the temporary tree of kept files.
type tree struct {
	root    string
	budget  int64
	used    int64
	maxFile int64
	files   map[string]file // by slash path relative to root
	set     extractors
}

// apply lays one layer's changes over the tree.
func (t *tree) apply(ctx context.Context, tr *tar.Reader, layer digest.Digest) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p, ok := cleanPath(h.Name)
		if !ok {
			continue
		}
		dir, base := path.Split(p)
		switch {
		case base == ".wh..wh..opq":
			t.remove(strings.TrimSuffix(dir, "/"), true)
			continue
		case strings.HasPrefix(base, ".wh."):
			t.remove(dir+strings.TrimPrefix(base, ".wh."), false)
			continue
		}
		if h.Typeflag == tar.TypeDir {
			continue // a directory entry only updates metadata
		}
		if h.Typeflag != tar.TypeReg || !t.set.wanted(p, h.FileInfo()) || h.Size > t.maxFile {
			t.drop(p) // a link, device or unwanted file replaces what was there
			continue
		}
		if err := t.keep(p, h.Size, tr, layer); err != nil {
			return err
		}
	}
}

// keep writes a wanted file into the tree.
func (t *tree) keep(p string, size int64, r io.Reader, layer digest.Digest) error {
	t.drop(p)
	if t.used+size > t.budget {
		return ErrBudget
	}
	dst := filepath.Join(t.root, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o700)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(r, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	t.used += n
	t.files[p] = file{layer: layer, size: n}
	return nil
}

// drop drops the file p, if kept.
func (t *tree) drop(p string) {
	if f, ok := t.files[p]; ok {
		os.Remove(filepath.Join(t.root, filepath.FromSlash(p)))
		t.used -= f.size
		delete(t.files, p)
	}
}

// remove drops p (and, for a directory, what is under it; with
// onlyUnder, only what is under it: an opaque directory).
func (t *tree) remove(p string, onlyUnder bool) {
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	for k, f := range t.files {
		if (k == p && !onlyUnder) || strings.HasPrefix(k, prefix) {
			os.Remove(filepath.Join(t.root, filepath.FromSlash(k)))
			t.used -= f.size
			delete(t.files, k)
		}
	}
}

// cleanPath turns a tar entry name into a clean relative slash path; it
// refuses names that climb out of the root.
func cleanPath(name string) (string, bool) {
	p := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	p = strings.TrimPrefix(p, "/")
	if p == "" || p == "." {
		return "", false
	}
	return p, true
}

// fileAPI is what FileRequired sees of a tar entry.
type fileAPI struct {
	path string
	info fs.FileInfo
}

func (f fileAPI) Path() string               { return f.path }
func (f fileAPI) Stat() (fs.FileInfo, error) { return f.info, nil }
