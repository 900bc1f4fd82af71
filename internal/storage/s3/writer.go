package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berth-registry/berth/internal/storage"
)

// Side-object metadata (x-amz-meta-*): the session's multipart upload, how
// many of its parts count, and how many bytes they hold.
const (
	metaUploadID = "berth-upload-id"
	metaParts    = "berth-parts"
	metaOffset   = "berth-offset"
)

// closeTimeout bounds Close and Cancel, which finish their work even when
// the request behind them was cancelled: the registry records what Write
// accepted, and cleans up after failed requests.
const closeTimeout = 10 * time.Minute

type part struct {
	num  int32
	etag string
	size int64
}

// writer is one FileWriter session; see the package comment for the scheme.
type writer struct {
	d         *Driver
	ctx       context.Context // the Writer call's, for parts uploaded by Write
	path, key string
	uploadID  string // "" until the first part
	parts     []part // parts 1..n of uploadID: the first base bytes
	base      int64
	buf       []byte // the bytes after base, at most one part
	fresh     bool   // opened at offset 0: nothing before it needs keeping
	hasSide   bool   // a side object (maybe stale) exists
	dirty     bool   // the store does not hold what Size says yet
	done      bool
}

// Writer implements storage.Driver; see the package comment.
func (d *Driver) Writer(ctx context.Context, p string, offset int64) (storage.FileWriter, error) {
	key, err := d.key(p)
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %d for %s", storage.ErrInvalidOffset, offset, p)
	}
	w := &writer{d: d, ctx: ctx, path: p, key: key, fresh: offset == 0}
	if err := w.open(ctx, offset); err != nil {
		return nil, err
	}
	return w, nil
}

// open loads the session or committed file at the key and cuts it at offset.
func (w *writer) open(ctx context.Context, offset int64) error {
	live, err := w.load(ctx)
	if err != nil {
		return err
	}
	size := w.Size()
	if !live {
		if offset == 0 {
			w.dirty = true // even an empty Close truncates
			return nil
		}
		head, err := w.d.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &w.d.bucket, Key: &w.key})
		if err != nil && !isNotFound(err) {
			return fail("writer", w.path, err)
		}
		size = 0
		if err == nil {
			size = aws.ToInt64(head.ContentLength)
		}
	}
	switch {
	case offset > size:
		return fmt.Errorf("%w: %d beyond size %d of %s", storage.ErrInvalidOffset, offset, size, w.path)
	case !live:
		w.dirty = true
		return w.adopt(ctx, offset)
	case offset >= w.base:
		w.dirty = offset < size
		w.buf = w.buf[:offset-w.base]
		return nil
	}
	return w.rewind(ctx, offset)
}

// load reads the side object and checks its upload. It reports whether a
// live session was found; a stale side object only sets hasSide.
func (w *writer) load(ctx context.Context) (bool, error) {
	side := w.key + pendingSuffix
	out, err := w.d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &w.d.bucket, Key: &side})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fail("writer", w.path, err)
	}
	defer out.Body.Close()
	w.hasSide = true
	tail, err := io.ReadAll(out.Body)
	if err != nil {
		return false, fail("writer", w.path, err)
	}
	id := metaValue(out.Metadata, metaUploadID)
	if id == "" {
		w.buf = tail
		return true, nil
	}
	n, err1 := strconv.Atoi(metaValue(out.Metadata, metaParts))
	base, err2 := strconv.ParseInt(metaValue(out.Metadata, metaOffset), 10, 64)
	if err1 != nil || err2 != nil {
		return false, fmt.Errorf("s3 writer %s: bad session metadata %v", w.path, out.Metadata)
	}
	parts, err := w.d.listParts(ctx, w.key, id, n)
	if hasCode(err, "NoSuchUpload") {
		return false, nil // completed or aborted: the object at the key is the truth
	}
	if err != nil {
		return false, fail("writer", w.path, err)
	}
	var sum int64
	for _, p := range parts {
		sum += p.size
	}
	if len(parts) != n || sum != base {
		return false, fmt.Errorf("s3 writer %s: upload %s has %d parts of %d bytes, session says %d of %d",
			w.path, id, len(parts), sum, n, base)
	}
	w.uploadID, w.parts, w.base, w.buf = id, parts, base, tail
	return true, nil
}

// listParts returns parts 1..n of an upload (later ones are leftovers).
func (d *Driver) listParts(ctx context.Context, key, id string, n int) ([]part, error) {
	var parts []part
	pages := s3.NewListPartsPaginator(d.client, &s3.ListPartsInput{Bucket: &d.bucket, Key: &key, UploadId: &id})
	for pages.HasMorePages() && len(parts) < n {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, p := range page.Parts {
			num := aws.ToInt32(p.PartNumber)
			if int(num) != len(parts)+1 || len(parts) == n {
				break
			}
			parts = append(parts, part{num: num, etag: aws.ToString(p.ETag), size: aws.ToInt64(p.Size)})
		}
	}
	return parts, nil
}

// rewind cuts a live session at an offset inside its parts.
func (w *writer) rewind(ctx context.Context, offset int64) error {
	w.dirty = true
	start := int64(0)
	for i, p := range w.parts {
		if offset >= start+p.size {
			start += p.size
			continue
		}
		if offset == start {
			w.parts, w.base, w.buf = w.parts[:i], start, w.buf[:0]
			return nil
		}
		// S3 cannot read back part i: complete the upload through it, then
		// continue from that object.
		if err := w.d.complete(ctx, w.key, w.uploadID, w.parts[:i+1]); err != nil {
			return fail("writer: rewind", w.path, err)
		}
		w.uploadID, w.parts, w.base, w.buf = "", nil, 0, nil
		return w.adopt(ctx, offset)
	}
	return fmt.Errorf("s3 writer %s: offset %d not in parts", w.path, offset)
}

// adopt starts a session holding the first offset bytes of the object at the
// key: whole parts copied server side, the rest read into the buffer.
func (w *writer) adopt(ctx context.Context, offset int64) error {
	full := offset / w.d.partSize * w.d.partSize
	if full > 0 {
		id, err := w.d.createUpload(ctx, w.key)
		if err != nil {
			return fail("writer", w.path, err)
		}
		parts, err := w.d.copyParts(ctx, w.key, id, w.key, full, 1)
		if err != nil {
			w.d.abort(context.WithoutCancel(ctx), w.key, id)
			return fail("writer: copy", w.path, err)
		}
		w.uploadID, w.parts, w.base = id, parts, full
	}
	if offset == full {
		return nil
	}
	out, err := w.d.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: &w.d.bucket, Key: &w.key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", full, offset-1)),
	})
	if err != nil {
		return fail("writer", w.path, err)
	}
	defer out.Body.Close()
	w.buf = make([]byte, offset-full, w.d.partSize)
	if _, err := io.ReadFull(out.Body, w.buf); err != nil {
		return fail("writer", w.path, err)
	}
	return nil
}

// Write buffers b, uploading each full part.
func (w *writer) Write(b []byte) (int, error) {
	if w.done {
		return 0, w.closedErr()
	}
	n := 0
	for len(b) > 0 {
		if int64(len(w.buf)) >= w.d.partSize {
			if err := w.flush(w.ctx); err != nil {
				return n, err
			}
		}
		c := min(int(w.d.partSize)-len(w.buf), len(b))
		w.grow(c)
		w.buf = append(w.buf, b[:c]...)
		b, n, w.dirty = b[c:], n+c, true
	}
	return n, nil
}

// grow makes room for c more bytes: small buffers double, and past 1 MiB the
// buffer becomes one whole part, reused for every part after.
func (w *writer) grow(c int) {
	need := len(w.buf) + c
	if need <= cap(w.buf) {
		return
	}
	size := max(need, 2*cap(w.buf), 64<<10)
	if size > 1<<20 {
		size = int(w.d.partSize)
	}
	nb := make([]byte, len(w.buf), size)
	copy(nb, w.buf)
	w.buf = nb
}

// flush uploads the buffer as the next part.
func (w *writer) flush(ctx context.Context) error {
	if w.uploadID == "" {
		id, err := w.d.createUpload(ctx, w.key)
		if err != nil {
			return fail("write", w.path, err)
		}
		if w.fresh && w.base == 0 {
			// Record the upload before its first part, so that Delete
			// can abort it even if this process dies before Close. The
			// recorded content (none) is what Writer(0) promised.
			meta := map[string]string{metaUploadID: id, metaParts: "0", metaOffset: "0"}
			if err := w.d.put(ctx, w.key+pendingSuffix, nil, meta); err != nil {
				w.d.abort(context.WithoutCancel(ctx), w.key, id)
				return fail("write", w.path, err)
			}
			w.hasSide = true
		}
		w.uploadID = id
	}
	num := int32(len(w.parts) + 1)
	if num > maxParts {
		return fmt.Errorf("s3 write %s: more than %d parts; raise the part size", w.path, maxParts)
	}
	out, err := w.d.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &w.d.bucket, Key: &w.key, UploadId: &w.uploadID, PartNumber: aws.Int32(num),
		Body: bytesReader(w.buf), ContentLength: aws.Int64(int64(len(w.buf))),
	})
	if err != nil {
		return fail("write", w.path, err)
	}
	w.parts = append(w.parts, part{num: num, etag: aws.ToString(out.ETag), size: int64(len(w.buf))})
	w.base += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Size implements storage.FileWriter.
func (w *writer) Size() int64 { return w.base + int64(len(w.buf)) }

// Close saves the session: a tail of 5 MiB or more becomes a part, the rest
// goes to the side object. It works even when the Writer's context is done.
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
	if len(w.buf) >= minPartSize {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	meta := map[string]string{metaParts: strconv.Itoa(len(w.parts)), metaOffset: strconv.FormatInt(w.base, 10)}
	if w.uploadID != "" {
		meta[metaUploadID] = w.uploadID
	}
	if err := w.d.put(ctx, w.key+pendingSuffix, w.buf, meta); err != nil {
		return fail("close", w.path, err)
	}
	return nil
}

// Commit makes the file an object at its key and ends the session.
func (w *writer) Commit(ctx context.Context) error {
	if w.done {
		return w.closedErr()
	}
	w.done = true
	defer w.release()
	if len(w.parts) == 0 {
		if err := w.d.put(ctx, w.key, w.buf, nil); err != nil {
			return fail("commit", w.path, err)
		}
		if w.uploadID != "" {
			w.d.abort(ctx, w.key, w.uploadID) // leftover parts only; a lifecycle rule catches failures
		}
	} else {
		if len(w.buf) > 0 {
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
		if err := w.d.complete(ctx, w.key, w.uploadID, w.parts); err != nil {
			return fail("commit", w.path, err)
		}
	}
	if w.hasSide {
		side := w.key + pendingSuffix
		if _, err := w.d.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &w.d.bucket, Key: &side}); err != nil {
			return fail("commit", w.path, err)
		}
	}
	return nil
}

// Cancel removes the file and its session, also after a failed Commit, and
// also when ctx is done (callers cancel because their request failed).
func (w *writer) Cancel(ctx context.Context) error {
	w.done = true
	w.release()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	errs := []error{w.d.abortSession(ctx, w.key+pendingSuffix)}
	if w.uploadID != "" {
		errs = append(errs, w.d.abort(ctx, w.key, w.uploadID))
	}
	_, err := w.d.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &w.d.bucket, Delete: &types.Delete{
		Objects: []types.ObjectIdentifier{{Key: aws.String(w.key)}, {Key: aws.String(w.key + pendingSuffix)}},
		Quiet:   aws.Bool(true),
	}})
	if err := errors.Join(append(errs, err)...); err != nil {
		return fail("cancel", w.path, err)
	}
	return nil
}

func (w *writer) release() { w.buf = nil }

func (w *writer) closedErr() error { return fmt.Errorf("s3 writer %s: %w", w.path, os.ErrClosed) }
