package gcs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"cloud.google.com/go/storage"

	berth "github.com/berth-registry/berth/internal/storage"
)

// closeTimeout bounds Close and Cancel, which finish their work even when
// the request behind them was cancelled: the registry records what Write
// accepted, and cleans up after failed requests.
const closeTimeout = 10 * time.Minute

// writer is one FileWriter session; see the package comment for the scheme.
type writer struct {
	d          *Driver
	ctx        context.Context // the Writer call's
	path, name string
	offset     int64 // where this writer started
	written    int64 // bytes written since
	exists     bool  // the object existed at generation gen
	gen        int64
	comps      int   // its component count
	rewrite    bool  // upload to the object itself, not a part
	readback   int64 // bytes of generation gen to copy into the upload first
	dirty      bool  // the object does not hold what Size says yet
	done       bool

	up     *storage.Writer // the resumable upload, once started
	upName string          // the object it writes
	cancel context.CancelFunc
}

// Writer implements storage.Driver; see the package comment.
func (d *Driver) Writer(ctx context.Context, p string, offset int64) (berth.FileWriter, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %d for %s", berth.ErrInvalidOffset, offset, p)
	}
	w := &writer{d: d, ctx: ctx, path: p, name: name, offset: offset}
	attrs, err := d.obj(name).Attrs(ctx)
	switch {
	case isNotFound(err):
		if offset > 0 {
			return nil, fmt.Errorf("%w: %d beyond size 0 of %s", berth.ErrInvalidOffset, offset, p)
		}
		w.rewrite, w.dirty = true, true // even an empty Close creates the file
		return w, nil
	case err != nil:
		return nil, fail("writer", p, err)
	}
	if offset > attrs.Size {
		return nil, fmt.Errorf("%w: %d beyond size %d of %s", berth.ErrInvalidOffset, offset, attrs.Size, p)
	}
	w.exists, w.gen, w.comps = true, attrs.Generation, components(attrs)
	if offset < attrs.Size || attrs.Size == 0 || w.comps >= d.maxComp {
		// Cut, replace (nothing to compose onto) or compact the file:
		// rewrite it from its first offset bytes.
		w.rewrite, w.readback = true, offset
	}
	if offset < attrs.Size {
		w.dirty = true
		if err := w.start(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// start begins the resumable upload, to the object itself or to a new part,
// and copies the bytes to keep into it when rewriting. Its context is not
// the request's: Close must be able to finish what Write accepted.
func (w *writer) start() error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(w.ctx))
	obj := w.d.obj(w.name)
	w.upName = w.name
	switch {
	case w.rewrite && w.exists:
		obj = obj.If(storage.Conditions{GenerationMatch: w.gen})
	case w.rewrite:
		obj = obj.If(storage.Conditions{DoesNotExist: true})
	default:
		var n [8]byte
		rand.Read(n[:])
		w.upName = w.name + partMark + hex.EncodeToString(n[:])
		obj = w.d.obj(w.upName).If(storage.Conditions{DoesNotExist: true})
	}
	up := obj.NewWriter(ctx)
	up.ChunkSize = w.d.chunkSize
	up.ContentType = contentType
	w.up, w.cancel = up, cancel
	if w.readback == 0 {
		return nil
	}
	r, err := w.d.obj(w.name).Generation(w.gen).NewRangeReader(w.ctx, 0, w.readback)
	if err != nil {
		w.abort()
		return fail("writer", w.path, err)
	}
	defer r.Close()
	n, err := io.Copy(up, r)
	if err == nil && n != w.readback {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		w.abort()
		return fmt.Errorf("gcs writer %s: reading back %d bytes: got %d: %w", w.path, w.readback, n, err)
	}
	return nil
}

// abort cancels the upload, which then never becomes an object.
func (w *writer) abort() {
	if w.up == nil {
		return
	}
	w.cancel()
	w.up.Close() // fails: cancelled; this waits for the upload's goroutine
	w.up = nil
}

// Write streams b into the upload.
func (w *writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, w.closedErr()
	}
	if len(b) == 0 {
		return 0, nil
	}
	if w.up == nil {
		if err := w.start(); err != nil {
			return 0, err
		}
	}
	n, err := w.up.Write(b)
	w.written += int64(n)
	w.dirty = true
	if err != nil {
		return n, fail("write", w.path, err)
	}
	return n, nil
}

// Size implements storage.FileWriter.
func (w *writer) Size() int64 { return w.offset + w.written }

// finish finalizes the upload and, for a part, composes it onto the file:
// the object then holds exactly Size() bytes.
func (w *writer) finish(ctx context.Context) error {
	if !w.dirty {
		w.abort()
		return nil
	}
	if w.up == nil {
		if err := w.start(); err != nil {
			return err
		}
	}
	stop := context.AfterFunc(ctx, w.cancel) // also abandon the upload with ctx
	defer stop()
	up := w.up
	w.up = nil
	err := up.Close()
	w.cancel()
	if err != nil {
		return fail("write", w.path, err)
	}
	if w.rewrite {
		return nil
	}
	part := w.d.obj(w.upName)
	c := w.d.obj(w.name).If(storage.Conditions{GenerationMatch: w.gen}).
		ComposerFrom(w.d.obj(w.name).Generation(w.gen), part.Generation(up.Attrs().Generation))
	c.ContentType = contentType
	c.Metadata = map[string]string{metaComponents: strconv.Itoa(w.comps + 1)}
	_, err = c.Run(ctx)
	// The part is garbage either way; Delete of the file also finds it.
	if derr := part.Delete(context.WithoutCancel(ctx)); derr != nil && !isNotFound(derr) && err == nil {
		err = derr
	}
	if err != nil {
		return fail("compose", w.path, err)
	}
	return nil
}

// Close finalizes what was written so far. It works even when the Writer's
// context is done.
func (w *writer) Close() error {
	if w.done {
		return w.closedErr()
	}
	w.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), closeTimeout)
	defer cancel()
	return w.finish(ctx)
}

// Commit finalizes the file; GCS acknowledges an upload or a compose only
// once stored durably.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return w.closedErr()
	}
	w.done = true
	return w.finish(ctx)
}

// Cancel abandons the upload and deletes the file (and any part left by a
// writer that died), also after a failed Commit and also when ctx is done
// (callers cancel because their request failed).
func (w *writer) Cancel(ctx context.Context) error {
	w.done = true
	w.abort()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := w.d.remove(ctx, w.name); err != nil {
		return fail("cancel", w.path, err)
	}
	return nil
}

func (w *writer) closedErr() error { return fmt.Errorf("gcs writer %s: %w", w.path, os.ErrClosed) }
