// Package layer lays image layers over a small temporary tree: each
// layer is streamed (gzip, zstd or plain tar), only the files a Want
// function asks for are written under the tree's root, within a byte
// budget (wanted files that do not fit are counted and left out), and whiteouts of upper layers remove them again (upper files
// replace lower ones). It knows nothing of package formats
// (internal/scan/builtin runs the extractors over the tree).
package layer

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
)

// Want reports whether a file (a clean relative slash path) is needed.
type Want func(path string, info fs.FileInfo) bool

// File is a kept file: the layer it came from, and its size.
type File struct {
	Layer digest.Digest
	Size  int64
}

// Tree is the temporary tree of kept files.
type Tree struct {
	root    string
	budget  int64
	used    int64
	maxFile int64
	want    Want
	// Files are the kept files by slash path relative to the root.
	Files map[string]File
	// Skipped counts wanted files left out because they did not fit in
	// the budget.
	Skipped int
}

// NewTree returns a tree under root (an existing, empty directory)
// keeping the files want asks for, at most maxFile bytes each and budget
// bytes in all.
func NewTree(root string, budget, maxFile int64, want Want) *Tree {
	return &Tree{root: root, budget: budget, maxFile: maxFile, want: want, Files: map[string]File{}}
}

// Used is the number of bytes the kept files take.
func (t *Tree) Used() int64 { return t.used }

// Apply lays one layer (compressed or not) over the tree.
func (t *Tree) Apply(ctx context.Context, r io.Reader, layer digest.Digest) error {
	rc, err := Decompress(r)
	if err != nil {
		return err
	}
	defer rc.Close()
	return t.apply(ctx, tar.NewReader(rc), layer)
}

// Decompress sniffs the layer's compression: gzip, zstd or none.
func Decompress(r io.Reader) (io.ReadCloser, error) {
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
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// apply lays one layer's changes over the tree.
func (t *Tree) apply(ctx context.Context, tr *tar.Reader, layer digest.Digest) error {
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
		if h.Typeflag != tar.TypeReg || !t.want(p, h.FileInfo()) || h.Size > t.maxFile {
			t.drop(p) // a link, device or unwanted file replaces what was there
			continue
		}
		if err := t.keep(p, h.Size, tr, layer); err != nil {
			return err
		}
	}
}

// keep writes a wanted file into the tree.
func (t *Tree) keep(p string, size int64, r io.Reader, layer digest.Digest) error {
	t.drop(p)
	if t.used+size > t.budget {
		// Over the budget: the file is left out (and counted), not the
		// whole image: executables that might be Go binaries are many.
		t.Skipped++
		return nil
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
	t.Files[p] = File{Layer: layer, Size: n}
	return nil
}

// drop drops the file p, if kept.
func (t *Tree) drop(p string) {
	if f, ok := t.Files[p]; ok {
		os.Remove(filepath.Join(t.root, filepath.FromSlash(p)))
		t.used -= f.Size
		delete(t.Files, p)
	}
}

// remove drops p (and, for a directory, what is under it; with
// onlyUnder, only what is under it: an opaque directory).
func (t *Tree) remove(p string, onlyUnder bool) {
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	for k, f := range t.Files {
		if (k == p && !onlyUnder) || strings.HasPrefix(k, prefix) {
			os.Remove(filepath.Join(t.root, filepath.FromSlash(k)))
			t.used -= f.Size
			delete(t.Files, k)
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
