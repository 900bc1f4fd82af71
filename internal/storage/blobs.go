package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/opencontainers/go-digest"
)

// Blobs is the content-addressed layout over a Driver. It checks paths but
// not content: callers verify digests before Commit.
type Blobs struct {
	d       Driver
	adopted Driver // Distribution's layout read in place (adopted.go), or nil
}

// NewBlobs returns the blob layout over d.
func NewBlobs(d Driver) *Blobs { return &Blobs{d: d} }

// Driver returns the underlying driver.
func (b *Blobs) Driver() Driver { return b.d }

// BlobPath is where a verified blob lives.
func BlobPath(dgst digest.Digest) string {
	enc := dgst.Encoded()
	return "blobs/" + string(dgst.Algorithm()) + "/" + enc[:2] + "/" + enc
}

// UploadPath is where the bytes of an upload in progress live.
func UploadPath(id string) string { return "uploads/" + id }

// Open reads a verified blob from offset.
func (b *Blobs) Open(ctx context.Context, dgst digest.Digest, offset int64) (io.ReadCloser, error) {
	return b.open(ctx, dgst, offset)
}

// RedirectURL returns a URL the client can download a blob from directly,
// if the driver can make one (see Redirector).
func (b *Blobs) RedirectURL(ctx context.Context, dgst digest.Digest, expires time.Duration) (string, bool) {
	url, err := b.redirectURL(ctx, dgst, expires)
	return url, err == nil
}

// Stat describes a verified blob.
func (b *Blobs) Stat(ctx context.Context, dgst digest.Digest) (FileInfo, error) {
	return b.stat(ctx, dgst)
}

// UploadWriter opens the data of upload id for writing at offset.
func (b *Blobs) UploadWriter(ctx context.Context, id string, offset int64) (FileWriter, error) {
	return b.d.Writer(ctx, UploadPath(id), offset)
}

// UploadReader reads the data of upload id from the start (to re-hash it).
func (b *Blobs) UploadReader(ctx context.Context, id string) (io.ReadCloser, error) {
	return b.d.Reader(ctx, UploadPath(id), 0)
}

// Commit makes the synced data of upload id visible as blob dgst. If the
// blob is already stored (same content), the upload is simply dropped.
func (b *Blobs) Commit(ctx context.Context, id string, dgst digest.Digest) error {
	if _, err := b.stat(ctx, dgst); err == nil {
		return b.DeleteUpload(ctx, id)
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := b.d.Move(ctx, UploadPath(id), BlobPath(dgst)); err != nil {
		return fmt.Errorf("commit upload %s as %s: %w", id, dgst, err)
	}
	return nil
}

// DeleteUpload removes everything stored for upload id.
func (b *Blobs) DeleteUpload(ctx context.Context, id string) error {
	err := b.d.Delete(ctx, UploadPath(id))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Delete removes a stored blob (garbage collection only).
func (b *Blobs) Delete(ctx context.Context, dgst digest.Digest) error {
	return b.d.Delete(ctx, BlobPath(dgst))
}
