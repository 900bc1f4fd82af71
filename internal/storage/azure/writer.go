package azure

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"github.com/berth-registry/berth/internal/storage"
)

// closeTimeout bounds Close and Cancel, which finish their work even when
// the request behind them was cancelled: the registry records what Write
// accepted, and cleans up after failed requests.
const closeTimeout = 10 * time.Minute

// blockIDLen is the length of this driver's block IDs before base64: the
// block's offset and the writer's random number, 16 hex digits each.
const blockIDLen = 32

type block struct {
	id   string // base64, as Azure wants it
	size int64
}

// writer is one FileWriter session; see the package comment for the scheme.
type writer struct {
	d          *Driver
	ctx        context.Context // the Writer call's, for blocks staged by Write
	path, name string
	bb         *blockblob.Client
	nonce      uint64
	blocks     []block // committed or staged: the first base bytes
	base       int64
	buf        []byte // the bytes after base, at most one block
	dirty      bool   // the blob does not hold what Size says yet
	done       bool
}

// Writer implements storage.Driver; see the package comment.
func (d *Driver) Writer(ctx context.Context, p string, offset int64) (storage.FileWriter, error) {
	name, err := d.name(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %d for %s", storage.ErrInvalidOffset, offset, p)
	}
	var n [8]byte
	rand.Read(n[:])
	w := &writer{d: d, ctx: ctx, path: p, name: name, bb: d.blob(name), nonce: binary.BigEndian.Uint64(n[:])}
	if err := w.open(ctx, offset); err != nil {
		return nil, err
	}
	return w, nil
}

// open reads the committed block list, keeps the blocks before offset and
// reads the rest up to offset back into the buffer.
func (w *writer) open(ctx context.Context, offset int64) error {
	list, err := w.bb.GetBlockList(ctx, blockblob.BlockListTypeCommitted, nil)
	if isNotFound(err) {
		if offset > 0 {
			return fmt.Errorf("%w: %d beyond size 0 of %s", storage.ErrInvalidOffset, offset, w.path)
		}
		w.dirty = true // even an empty Close creates the file
		return nil
	}
	if err != nil {
		return fail("writer", w.path, err)
	}
	size := deref(list.BlobContentLength)
	if offset > size {
		return fmt.Errorf("%w: %d beyond size %d of %s", storage.ErrInvalidOffset, offset, size, w.path)
	}
	w.dirty = offset < size
	if blocks, ok := ours(list.BlockList.CommittedBlocks, size); ok {
		for _, b := range blocks {
			if w.base+b.size > offset {
				break
			}
			w.blocks = append(w.blocks, b)
			w.base += b.size
		}
		if n := len(w.blocks); n > 0 && w.blocks[n-1].size < w.d.blockSize {
			w.base -= w.blocks[n-1].size // a short block left by a Close: read it back
			w.blocks = w.blocks[:n-1]
		}
	}
	if w.base == offset {
		return nil
	}
	// Read [base, offset) back from the committed blob; full blocks are
	// staged again as they fill the buffer.
	out, err := w.bb.DownloadStream(ctx, &blob.DownloadStreamOptions{
		Range: blob.HTTPRange{Offset: w.base, Count: offset - w.base},
	})
	if err != nil {
		return fail("writer", w.path, err)
	}
	defer out.Body.Close()
	dirty, from := w.dirty, w.base
	n, err := io.Copy(writeOnly{w}, out.Body)
	if err == nil && w.Size() != offset {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("azure writer %s: reading back %d bytes at %d: got %d: %w", w.path, offset-from, from, n, err)
	}
	w.dirty = dirty
	return nil
}

// ours returns the committed blocks if they hold the whole blob and all have
// this driver's IDs, so that a new list can reuse them.
func ours(committed []*blockblob.Block, size int64) ([]block, bool) {
	var sum int64
	blocks := make([]block, 0, len(committed))
	for _, b := range committed {
		id := deref(b.Name)
		raw, err := base64.StdEncoding.DecodeString(id)
		if err != nil || len(raw) != blockIDLen {
			return nil, false
		}
		blocks = append(blocks, block{id: id, size: deref(b.Size)})
		sum += deref(b.Size)
	}
	return blocks, sum == size
}

// writeOnly hides writer's other methods from io.Copy.
type writeOnly struct{ w *writer }

func (o writeOnly) Write(b []byte) (int, error) { return o.w.Write(b) }

// Write buffers b, staging each full block.
func (w *writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, w.closedErr()
	}
	n := 0
	for len(b) > 0 {
		if int64(len(w.buf)) >= w.d.blockSize {
			if err := w.stage(w.ctx); err != nil {
				return n, err
			}
		}
		c := min(int(w.d.blockSize)-len(w.buf), len(b))
		w.grow(c)
		w.buf = append(w.buf, b[:c]...)
		b, n, w.dirty = b[c:], n+c, true
	}
	return n, nil
}

// grow makes room for c more bytes: small buffers double, and past 1 MiB the
// buffer becomes one whole block, reused for every block after.
func (w *writer) grow(c int) {
	need := len(w.buf) + c
	if need <= cap(w.buf) {
		return
	}
	size := max(need, 2*cap(w.buf), 64<<10)
	if size > 1<<20 {
		size = int(w.d.blockSize)
	}
	nb := make([]byte, len(w.buf), size)
	copy(nb, w.buf)
	w.buf = nb
}

// stage uploads the buffer as the next (uncommitted) block.
func (w *writer) stage(ctx context.Context) error {
	if len(w.blocks) >= maxBlocks {
		return fmt.Errorf("azure write %s: more than %d blocks; raise the block size", w.path, maxBlocks)
	}
	id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%016x%016x", w.base, w.nonce))
	if _, err := w.bb.StageBlock(ctx, id, streaming.NopCloser(bytes.NewReader(w.buf)), nil); err != nil {
		return fail("write", w.path, err)
	}
	w.blocks = append(w.blocks, block{id: id, size: int64(len(w.buf))})
	w.base += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// commit stages the buffer and commits the block list: the blob then holds
// exactly Size() bytes.
func (w *writer) commit(ctx context.Context) error {
	if len(w.buf) > 0 {
		if err := w.stage(ctx); err != nil {
			return err
		}
	}
	ids := make([]string, len(w.blocks))
	for i, b := range w.blocks {
		ids[i] = b.id
	}
	_, err := w.bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: ptr("application/octet-stream")},
	})
	if err != nil {
		return fail("commit", w.path, err)
	}
	w.dirty = false
	return nil
}

// Size implements storage.FileWriter.
func (w *writer) Size() int64 { return w.base + int64(len(w.buf)) }

// Close commits what was written so far. It works even when the Writer's
// context is done.
func (w *writer) Close() error {
	if w.done {
		return w.closedErr()
	}
	w.done = true
	defer w.release()
	if !w.dirty {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.ctx), closeTimeout)
	defer cancel()
	return w.commit(ctx)
}

// Commit commits the block list; Azure stores it durably before answering.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return w.closedErr()
	}
	w.done = true
	defer w.release()
	return w.commit(ctx)
}

// Cancel deletes the blob, and with it any uncommitted blocks, also after a
// failed Commit and also when ctx is done (callers cancel because their
// request failed).
func (w *writer) Cancel(ctx context.Context) error {
	w.done = true
	w.release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	if _, err := w.bb.Delete(ctx, nil); err != nil && !isNotFound(err) {
		return fail("cancel", w.path, err)
	}
	return nil
}

func (w *writer) release() { w.buf = nil }

func (w *writer) closedErr() error { return fmt.Errorf("azure writer %s: %w", w.path, os.ErrClosed) }
