package registry

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/storage"
)

// Upload is the state of an upload session as the API reports it.
type Upload = meta.Upload

// newUploadID returns a random, unguessable session id in UUID (version 4)
// form, as Docker's registry made them.
func newUploadID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// StartUpload opens an upload session whose running digest uses alg
// (sha256 when empty).
func (s *Service) StartUpload(ctx context.Context, repo string, alg digest.Algorithm) (Upload, error) {
	if err := s.checkWritable(repo); err != nil {
		return Upload{}, err
	}
	if alg == "" {
		alg = oci.SHA256
	}
	if _, err := s.admitUpload(ctx, repo, "", 0, 0, nil); err != nil {
		return Upload{}, err
	}
	h, err := oci.NewHash(alg)
	if err != nil {
		return Upload{}, fmt.Errorf("%w: %v", ErrDigestInvalid, err)
	}
	state, err := marshalHash(h)
	if err != nil {
		return Upload{}, err
	}
	u := Upload{ID: newUploadID(), Repository: repo, Algorithm: alg, HashState: state}
	if err := s.admitSession(ctx, u.ID, repo, client(ctx)); err != nil {
		return Upload{}, err
	}
	if s.pending.add(u) {
		return u, nil
	}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		s.sessions.end(u.ID)
		return Upload{}, err
	}
	return u, nil
}

// UploadStatus returns an upload session's state.
func (s *Service) UploadStatus(ctx context.Context, repo, id string) (Upload, error) {
	if u, ok := s.pending.get(repo, id); ok {
		return u, nil
	}
	u, err := s.meta.Upload(ctx, repo, id)
	return u, uploadErr(err, id)
}

// errChunkLength: a chunk's body is longer or shorter than its
// Content-Range (or Content-Length) said. Nothing of it is kept.
var errChunkLength = fmt.Errorf("%w: the body's length is not the chunk's", ErrRangeInvalid)

// exactly makes body fail with errChunkLength unless it has exactly
// length bytes (length -1: any). A chunked body with Content-Range 20-29
// and 100 bytes was stored whole.
func exactly(body io.Reader, length int64) io.Reader {
	if body == nil || length < 0 {
		return body
	}
	return &exactReader{r: body, left: length, length: length}
}

type exactReader struct {
	r            io.Reader
	left, length int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, err := e.r.Read(one[:]); n > 0 {
			return 0, fmt.Errorf("%w: more than %d bytes", errChunkLength, e.length)
		} else if err == nil {
			return 0, nil
		} else {
			return 0, err
		}
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		return n, fmt.Errorf("%w: %d bytes, not %d", errChunkLength, e.length-e.left, e.length)
	}
	return n, err
}

// WriteUpload appends a chunk to an upload session. start is where the
// client says the chunk begins (-1 when it sent no Content-Range); a chunk
// that does not continue the upload exactly is refused with ErrRangeInvalid
// and the current state, so the client can resume from there. While
// another instance writes the session, ErrUploadBusy. length is the
// chunk's length (-1: not known); a chunk that would take the project over
// its quota is refused before it is read, and the session discarded.
func (s *Service) WriteUpload(ctx context.Context, repo, id string, start, length int64, body io.Reader) (Upload, error) {
	u, l, err := s.acquireUpload(ctx, repo, id)
	if err != nil {
		return Upload{}, err
	}
	defer l.release()
	if start >= 0 && start != u.Size {
		return u, fmt.Errorf("%w: chunk starts at %d, upload has %d bytes", ErrRangeInvalid, start, u.Size)
	}
	body = exactly(body, length)
	if body, err = s.admitUpload(ctx, repo, "", u.Size, length, body); err != nil {
		return u, s.refuseUpload(l, u, err)
	}
	_, err = s.appendUpload(l, &u, body, false)
	if qe := quotaError(err); qe != nil {
		return u, s.refuseUpload(l, u, qe)
	}
	return u, err
}

// refuseUpload discards a session a quota refused: nothing of it remains.
func (s *Service) refuseUpload(l *uploadLease, u Upload, err error) error {
	if quotaError(err) != nil {
		s.discardUpload(l.ctx, u)
		l.ended = true
	}
	return err
}

// FinishUpload appends an optional last chunk, verifies the whole upload
// against dgst, and makes it a blob of the repository. When the content
// does not match dgst, the session and its bytes are discarded; so they
// are when the blob would take the project over its quota (checked before
// the last chunk, of length bytes or -1 when not known, is read).
func (s *Service) FinishUpload(ctx context.Context, repo, id string, dgst digest.Digest, start, length int64, body io.Reader) (meta.Blob, error) {
	u, l, err := s.acquireUpload(ctx, repo, id)
	if err != nil {
		return meta.Blob{}, err
	}
	defer l.release()
	if start >= 0 && start != u.Size {
		return meta.Blob{}, fmt.Errorf("%w: chunk starts at %d, upload has %d bytes", ErrRangeInvalid, start, u.Size)
	}
	if body == nil {
		length = 0
	}
	body = exactly(body, length)
	if body, err = s.admitUpload(ctx, repo, dgst, u.Size, length, body); err != nil {
		return meta.Blob{}, s.refuseUpload(l, u, err)
	}
	sum, err := s.appendUpload(l, &u, body, true)
	if qe := quotaError(err); qe != nil {
		return meta.Blob{}, s.refuseUpload(l, u, qe)
	}
	if err != nil {
		return meta.Blob{}, err
	}
	ctx = l.ctx // cancelled should the lease be lost
	if dgst.Algorithm() != u.Algorithm {
		// The session hashed with another algorithm: hash the bytes again.
		if sum, err = s.rehashUpload(ctx, id, dgst.Algorithm()); err != nil {
			return meta.Blob{}, err
		}
	}
	if sum != dgst {
		s.discardUpload(ctx, u)
		l.ended = true
		return meta.Blob{}, fmt.Errorf("%w: content has digest %s, not %s", ErrDigestInvalid, sum, dgst)
	}
	b := meta.Blob{Digest: dgst, Size: u.Size}
	if err := s.blobs.Commit(ctx, id, dgst); err != nil {
		return meta.Blob{}, err
	}
	if err := s.completeUpload(context.WithoutCancel(ctx), l, u, b); err != nil {
		if errors.Is(err, meta.ErrBlobDeleting) {
			// Garbage collection deleted the blob's file just as this
			// upload committed: the bytes are gone; the client retries.
			s.discardUpload(ctx, u)
			l.ended = true
			return meta.Blob{}, fmt.Errorf("%w: %v", ErrRetry, err)
		}
		return meta.Blob{}, uploadErr(err, id)
	}
	l.ended = true
	s.forgetUpload(id)
	return b, nil
}

// completeUpload records the blob and ends the session: in one store
// transaction, or for a pending session, which the store never saw, by
// recording the blob alone.
func (s *Service) completeUpload(ctx context.Context, l *uploadLease, u Upload, b meta.Blob) error {
	if !l.pending {
		return s.meta.CompleteUpload(ctx, u, b)
	}
	if !s.pending.take(u.ID) {
		// Dropped meanwhile with its repository.
		return fmt.Errorf("%w: upload %s", meta.ErrNotFound, u.ID)
	}
	l.pending = false
	return s.meta.PutBlob(ctx, u.Repository, b)
}

// CancelUpload discards an upload session and its bytes.
func (s *Service) CancelUpload(ctx context.Context, repo, id string) error {
	u, l, err := s.acquireUpload(ctx, repo, id)
	if err != nil {
		return err
	}
	defer l.release()
	s.discardUpload(ctx, u)
	l.ended = true
	return nil
}

// PushBlob stores a whole blob sent in one request (POST ?digest=). The
// bytes go to a private upload file that becomes the blob only once its
// digest and size are verified; on any failure nothing remains.
func (s *Service) PushBlob(ctx context.Context, repo string, dgst digest.Digest, size int64, body io.Reader) (meta.Blob, error) {
	if err := s.checkWritable(repo); err != nil {
		return meta.Blob{}, err
	}
	h, err := oci.NewHash(dgst.Algorithm())
	if err != nil {
		return meta.Blob{}, fmt.Errorf("%w: %v", ErrDigestInvalid, err)
	}
	if body, err = s.admitUpload(ctx, repo, dgst, 0, size, body); err != nil {
		return meta.Blob{}, err
	}
	id := newUploadID()
	w, err := s.blobs.UploadWriter(ctx, id, 0)
	if err != nil {
		return meta.Blob{}, err
	}
	n, err := hashCopy(w, body, h)
	if err != nil {
		w.Cancel(ctx)
		if qe := quotaError(err); qe != nil {
			return meta.Blob{}, qe
		}
		return meta.Blob{}, fmt.Errorf("%w: reading body: %v", ErrUploadInvalid, err)
	}
	if size >= 0 && n != size {
		w.Cancel(ctx)
		return meta.Blob{}, fmt.Errorf("%w: received %d bytes, Content-Length said %d", ErrSizeInvalid, n, size)
	}
	if sum := digest.NewDigest(dgst.Algorithm(), h); sum != dgst {
		w.Cancel(ctx)
		return meta.Blob{}, fmt.Errorf("%w: content has digest %s, not %s", ErrDigestInvalid, sum, dgst)
	}
	if err := w.Commit(ctx); err != nil {
		w.Cancel(ctx)
		return meta.Blob{}, err
	}
	if err := s.blobs.Commit(ctx, id, dgst); err != nil {
		s.blobs.DeleteUpload(ctx, id)
		return meta.Blob{}, err
	}
	b := meta.Blob{Digest: dgst, Size: n}
	if err := s.meta.PutBlob(context.WithoutCancel(ctx), repo, b); err != nil {
		if errors.Is(err, meta.ErrBlobDeleting) {
			return meta.Blob{}, fmt.Errorf("%w: %v", ErrRetry, err)
		}
		return meta.Blob{}, err
	}
	return b, nil
}

// appendUpload writes body at the end of the upload, hashing it into the
// session's running digest. A chunk (finish false) saves the new state even
// when the body breaks off, so the client can resume. The last chunk
// (finish true) is made durable instead, and its state is not saved: the
// session is completed or discarded next, and on a failure the client
// retries the whole request from the saved state. It returns the digest of
// everything uploaded so far.
func (s *Service) appendUpload(l *uploadLease, u *Upload, body io.Reader, finish bool) (digest.Digest, error) {
	ctx := l.ctx
	h, err := oci.NewHash(u.Algorithm)
	if err != nil {
		return "", err
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(u.HashState); err != nil {
		return "", fmt.Errorf("upload %s: restoring hash state: %w", u.ID, err)
	}
	w, err := s.blobs.UploadWriter(ctx, u.ID, u.Size)
	if errors.Is(err, storage.ErrInvalidOffset) {
		// The bytes the session counts are gone (a machine crash lost
		// unsynced chunks): the session cannot continue; the client
		// starts the blob over.
		s.discardUpload(ctx, *u)
		return "", fmt.Errorf("%w: %s: its data was lost, start the upload again", ErrUploadUnknown, u.ID)
	}
	if err != nil {
		return "", err
	}
	var n int64
	var cerr error
	if body != nil {
		n, cerr = hashCopy(w, leasedReader{l, body}, h)
	}
	if errors.Is(cerr, errChunkLength) {
		// The chunk is not the one its Content-Range announced: keep none
		// of it (the next writer truncates what was written past the
		// saved state).
		w.Close()
		return "", cerr
	}
	if err := l.lost(); err != nil {
		// Another instance has taken the session over: closing the writer
		// or saving the state now would overwrite what it writes. Leave
		// both; the next writer drops whatever this one wrote past the
		// saved state.
		return "", err
	}
	var werr error
	if finish && cerr == nil {
		werr = w.Commit(ctx)
	} else {
		werr = w.Close()
	}
	if werr != nil {
		// What was written is not known to be kept (on S3, Close is where
		// it becomes durable): leave the session where it was; the next
		// writer drops any bytes beyond it.
		return "", werr
	}
	if n > 0 {
		prev := u.Size
		u.Size += n
		if !finish {
			if u.HashState, err = marshalHash(h); err != nil {
				return "", err
			}
			// Save progress even if the client went away.
			if err := s.saveUpload(context.WithoutCancel(ctx), l, *u, prev); err != nil {
				return "", uploadErr(err, u.ID)
			}
		}
	}
	if qe := quotaError(cerr); qe != nil {
		return "", qe
	}
	if cerr != nil {
		return "", fmt.Errorf("%w: reading body: %v", ErrUploadInvalid, cerr)
	}
	return digest.NewDigest(u.Algorithm, h), nil
}

// saveUpload stores a session's new size and hash state; a pending
// session's first chunk moves it to the store.
func (s *Service) saveUpload(ctx context.Context, l *uploadLease, u Upload, prevSize int64) error {
	if !l.pending {
		return s.meta.UpdateUpload(ctx, u, prevSize)
	}
	gone := fmt.Errorf("%w: upload %s", meta.ErrNotFound, u.ID) // dropped with its repository
	if _, ok := s.pending.get(u.Repository, u.ID); !ok {
		return gone
	}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		return err // still pending at its start: the client can send the chunk again
	}
	l.pending = false
	if !s.pending.take(u.ID) {
		// Dropped while it was being stored: drop the stored copy too.
		if err := s.meta.DeleteUpload(ctx, u.Repository, u.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			s.log.WarnContext(ctx, "discard upload", "upload", u.ID, "error", err)
		}
		return gone
	}
	return nil
}

// rehashUpload computes the digest of an upload's bytes with alg.
func (s *Service) rehashUpload(ctx context.Context, id string, alg digest.Algorithm) (digest.Digest, error) {
	h, err := oci.NewHash(alg)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrDigestInvalid, err)
	}
	r, err := s.blobs.UploadReader(ctx, id)
	if err != nil {
		return "", err
	}
	defer r.Close()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}

// discardUpload removes a session and its bytes; failures are only logged
// (a leftover is harmless and collected later).
func (s *Service) discardUpload(ctx context.Context, u Upload) {
	ctx = context.WithoutCancel(ctx)
	if !s.pending.take(u.ID) { // a pending session was never stored
		if err := s.meta.DeleteUpload(ctx, u.Repository, u.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
			s.log.WarnContext(ctx, "discard upload", "upload", u.ID, "error", err)
		}
	}
	if err := s.blobs.DeleteUpload(ctx, u.ID); err != nil {
		s.log.WarnContext(ctx, "discard upload bytes", "upload", u.ID, "error", err)
	}
	s.forgetUpload(u.ID)
}

func marshalHash(h hash.Hash) ([]byte, error) {
	return h.(encoding.BinaryMarshaler).MarshalBinary()
}

// uploadErr maps a not-found from the store to ErrUploadUnknown.
func uploadErr(err error, id string) error {
	if errors.Is(err, meta.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrUploadUnknown, id)
	}
	if errors.Is(err, meta.ErrConflict) {
		return fmt.Errorf("%w: %v", ErrRangeInvalid, err)
	}
	return err
}
