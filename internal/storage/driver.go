// Package storage stores blob bytes. A Driver is a small, context-first
// file store that knows nothing of HTTP or digests; Blobs lays a
// content-addressed layout over any Driver:
//
//	blobs/<algorithm>/<first two hex chars>/<hex>   verified blob content
//	uploads/<upload id>                             bytes of an upload in progress
//
// A blob path is written only by moving a finished upload onto it after its
// digest was verified, so a reader never sees a partial blob. With a
// Distribution storage adopted (adopted.go), blobs not found there are read
// from docker/registry/v2/blobs/<algorithm>/<xx>/<hex>/data on a second
// driver, which Berth never writes to.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// Sentinel errors every Driver returns (wrapped with %w).
var (
	// ErrNotFound: no file at the path.
	ErrNotFound = errors.New("storage: not found")
	// ErrInvalidPath: the path is empty, absolute, or escapes the root.
	ErrInvalidPath = errors.New("storage: invalid path")
	// ErrInvalidOffset: a Writer was asked to start beyond the end of the file.
	ErrInvalidOffset = errors.New("storage: invalid offset")
)

// FileInfo describes a stored file.
type FileInfo struct {
	Path    string
	Size    int64
	ModTime time.Time
	IsDir   bool
}

// Driver is the minimal file store a blob backend implements. Paths are
// slash-separated, relative, and never contain "..".
type Driver interface {
	// Name identifies the driver in logs and metrics ("filesystem", "s3").
	Name() string
	// Stat describes the file at path, or returns ErrNotFound.
	Stat(ctx context.Context, path string) (FileInfo, error)
	// GetContent reads a whole (small) file.
	GetContent(ctx context.Context, path string) ([]byte, error)
	// PutContent writes a whole (small) file atomically and durably.
	PutContent(ctx context.Context, path string, data []byte) error
	// Reader opens the file for reading from offset. The filesystem driver
	// returns an *os.File so that copying it to a connection uses sendfile.
	Reader(ctx context.Context, path string, offset int64) (io.ReadCloser, error)
	// Writer opens the file for writing at offset, creating it if needed.
	// Bytes beyond offset (left by an interrupted earlier write) are dropped.
	Writer(ctx context.Context, path string, offset int64) (FileWriter, error)
	// Move renames src to dst atomically, replacing dst.
	Move(ctx context.Context, src, dst string) error
	// Delete removes the file or the whole tree at path. Deleting what does
	// not exist returns ErrNotFound.
	Delete(ctx context.Context, path string) error
	// Walk calls fn for every file (not directory) below prefix, in lexical order.
	Walk(ctx context.Context, prefix string, fn func(FileInfo) error) error
}

// FileWriter writes one file. Close keeps what was written so a later Writer
// can append to it; Commit also makes it durable; Cancel removes it.
type FileWriter interface {
	io.Writer
	// Size is the file's size including what this writer wrote.
	Size() int64
	// Commit flushes and syncs the data to stable storage, then closes.
	Commit(ctx context.Context) error
	// Cancel discards the file, then closes.
	Cancel(ctx context.Context) error
	// Close releases the writer, keeping what was written.
	Close() error
}
