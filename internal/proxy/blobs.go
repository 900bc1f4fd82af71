package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// spoolPattern names spool files in proxy.spool_dir.
const spoolPattern = "blob-*"

// BlobHit implements registry.Upstream.
func (p *Proxy) BlobHit(r registry.ProxyRoute) {
	if u := p.byName[r.Upstream]; u != nil {
		u.stats.blobHits.Add(1)
	}
}

// StatBlob implements registry.Upstream: a HEAD at the upstream, nothing cached.
func (p *Proxy) StatBlob(ctx context.Context, r registry.ProxyRoute, dgst digest.Digest) (meta.Blob, error) {
	u, err := p.upstream(r)
	if err != nil {
		return meta.Blob{}, err
	}
	size, err := u.c.headBlob(ctx, r.Remote, dgst)
	if err != nil {
		return meta.Blob{}, p.blobErr(ctx, u, err, dgst)
	}
	return meta.Blob{Digest: dgst, Size: size}, nil
}

// FetchBlob implements registry.Upstream. The first request for a blob
// starts its download; every request for it (the first included) reads
// the spool file the download writes, as far as it got.
func (p *Proxy) FetchBlob(ctx context.Context, r registry.ProxyRoute, dgst digest.Digest) (*registry.BlobContent, error) {
	u, err := p.upstream(r)
	if err != nil {
		return nil, err
	}
	if b, err := p.meta.BlobUnder(ctx, u.cfg.Project, dgst); err == nil {
		// Cached already for another repository of this upstream (so these
		// bytes came from it, verified): the repository may read them once
		// the upstream confirms it has the blob there. A blob stored
		// elsewhere (pushed to a private project) is never served on the
		// word of an upstream: it is downloaded and verified like any other.
		if _, err := u.c.headBlob(ctx, r.Remote, dgst); err != nil {
			return nil, p.blobErr(ctx, u, err, dgst)
		}
		if err := p.meta.PutBlob(ctx, r.Repo, b); err != nil {
			return nil, err
		}
		rc, err := p.blobs.Open(ctx, dgst, 0)
		if err != nil {
			return nil, err
		}
		u.stats.blobHits.Add(1)
		return &registry.BlobContent{Blob: b, ReadCloser: rc}, nil
	}
	f := p.startFetch(u, r, dgst)
	if err := f.waitStarted(ctx); err != nil {
		f.release()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.blobErr(ctx, u, err, dgst)
	}
	u.stats.blobMisses.Add(1)
	return &registry.BlobContent{
		Blob:       meta.Blob{Digest: dgst, Size: f.size},
		ReadCloser: f.reader(ctx),
	}, nil
}

// startFetch joins the download of a blob in flight, or starts it, and
// holds it (the caller releases it).
func (p *Proxy) startFetch(u *upstream, r registry.ProxyRoute, dgst digest.Digest) *fetch {
	key := r.Upstream + "/" + r.Remote + "@" + dgst.String()
	p.fetchMu.Lock()
	defer p.fetchMu.Unlock()
	f, ok := p.fetches[key]
	if !ok {
		f = newFetch(dgst)
		p.fetches[key] = f
		u.stats.blobFetches.Add(1)
		go p.runFetch(u, r, key, f)
	}
	f.hold() // before unlocking: the fetch cannot close the spool under us
	return f
}

// blobErr maps an upstream failure of a blob request for the client.
func (p *Proxy) blobErr(ctx context.Context, u *upstream, err error, dgst digest.Digest) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	u.stats.fail(err.Error(), p.now())
	return unknownErr(registry.ErrBlobUnknown, fmt.Errorf("%s: %w", dgst, err))
}

// runFetch downloads one blob, then leaves the table of fetches: from then
// on the blob is in the store (or, after a failure, the next request
// starts over).
func (p *Proxy) runFetch(u *upstream, r registry.ProxyRoute, key string, f *fetch) {
	err := p.download(u, r, f)
	p.fetchMu.Lock()
	delete(p.fetches, key)
	p.fetchMu.Unlock()
	if err != nil {
		p.log.Warn("proxy: blob download failed", "upstream", u.cfg.Name, "repo", r.Repo,
			"digest", f.dgst.String(), "bytes", f.progress(), "error", err)
	} else {
		p.log.Info("proxy: cached a blob", "upstream", u.cfg.Name, "repo", r.Repo, "digest", f.dgst.String(), "bytes", f.size)
	}
	f.finish(err)
	f.release()
}

// download copies the upstream's blob into the spool file (for readers),
// the hash, and a storage upload; the upload becomes the blob only once
// size and digest are verified. On any failure nothing is stored.
func (p *Proxy) download(u *upstream, r registry.ProxyRoute, f *fetch) (err error) {
	ctx := p.ctx
	resp, err := u.c.getBlob(ctx, r.Remote, f.dgst)
	if err != nil {
		return err
	}
	body := newIdleReader(resp.Body, u.cfg.Timeout)
	defer body.Close()
	if resp.ContentLength < 0 {
		return fmt.Errorf("%w: upstream %s sent blob %s without a Content-Length", registry.ErrUpstreamUnavailable, u.cfg.Name, f.dgst)
	}
	h, err := oci.NewHash(f.dgst.Algorithm())
	if err != nil {
		return fmt.Errorf("%w: %v", registry.ErrDigestInvalid, err)
	}
	spool, err := os.CreateTemp(p.opts.Config.SpoolDir, spoolPattern)
	if err != nil {
		return err
	}
	os.Remove(spool.Name()) // readers hold the open file; nothing to clean up
	f.start(resp.ContentLength, spool)

	id := newID()
	w, err := p.blobs.UploadWriter(ctx, id, 0)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			w.Cancel(context.WithoutCancel(ctx))
		}
	}()
	// Readers need the spool only: the hash and the storage upload are
	// written on a second goroutine, through a ring of buffers, so that
	// they overlap with reading the network.
	free := make(chan []byte, storeBufs)
	for range storeBufs {
		free <- make([]byte, storeBufSize)
	}
	work := make(chan []byte, storeBufs)
	stored := make(chan error, 1)
	go func() {
		var werr error
		for b := range work {
			if werr == nil {
				h.Write(b)
				_, werr = w.Write(b)
			}
			free <- b[:cap(b)]
		}
		stored <- werr
	}()
	n, err := p.readInto(u, f, body, spool, free, work)
	close(work)
	if werr := <-stored; err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if n != f.size {
		return fmt.Errorf("%w: upstream %s sent %d of the %d bytes of blob %s", registry.ErrUpstreamUnavailable, u.cfg.Name, n, f.size, f.dgst)
	}
	if sum := digest.NewDigest(f.dgst.Algorithm(), h); sum != f.dgst {
		p.log.Error("proxy: upstream sent a blob whose digest does not match", "upstream", u.cfg.Name, "digest", f.dgst.String(), "got", sum.String())
		return fmt.Errorf("%w: upstream %s sent content with digest %s for blob %s", registry.ErrUpstreamUnavailable, u.cfg.Name, sum, f.dgst)
	}
	if err := w.Commit(ctx); err != nil {
		return err
	}
	committed = true
	if err := p.blobs.Commit(ctx, id, f.dgst); err != nil {
		p.blobs.DeleteUpload(context.WithoutCancel(ctx), id)
		return err
	}
	return p.meta.PutBlob(context.WithoutCancel(ctx), r.Repo, meta.Blob{Digest: f.dgst, Size: n})
}

// The ring of buffers between the download and the storage writer.
const (
	storeBufs    = 4
	storeBufSize = 256 << 10
)

// readInto copies the upstream body into the spool (advancing readers)
// and hands each chunk to the storage writer through work.
func (p *Proxy) readInto(u *upstream, f *fetch, body io.Reader, spool *os.File, free, work chan []byte) (int64, error) {
	var n int64
	for {
		buf := <-free
		m, rerr := body.Read(buf)
		if m > 0 {
			if n+int64(m) > f.size {
				return n, fmt.Errorf("%w: upstream %s sent more than the %d bytes of blob %s", registry.ErrUpstreamUnavailable, u.cfg.Name, f.size, f.dgst)
			}
			if _, err := spool.WriteAt(buf[:m], n); err != nil {
				return n, err
			}
			n += int64(m)
			f.advance(n)
			u.stats.bytesFetched.Add(int64(m))
			work <- buf[:m]
		} else {
			free <- buf
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, fmt.Errorf("%w: upstream %s: reading blob %s after %d bytes: %v", registry.ErrUpstreamUnavailable, u.cfg.Name, f.dgst, n, rerr)
		}
	}
}

func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return "proxy-" + hex.EncodeToString(b[:])
}

// fetch is one blob download in flight and its readers.
type fetch struct {
	dgst digest.Digest

	mu      sync.Mutex
	cond    *sync.Cond
	started bool
	size    int64
	spool   *os.File
	written int64
	done    bool
	err     error
	refs    int // the download and each reader; the last one closes the spool
}

func newFetch(d digest.Digest) *fetch {
	f := &fetch{dgst: d, refs: 1}
	f.cond = sync.NewCond(&f.mu)
	return f
}

func (f *fetch) hold() {
	f.mu.Lock()
	f.refs++
	f.mu.Unlock()
}

func (f *fetch) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refs--; f.refs == 0 && f.spool != nil {
		f.spool.Close()
	}
}

func (f *fetch) start(size int64, spool *os.File) {
	f.mu.Lock()
	f.started, f.size, f.spool = true, size, spool
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *fetch) advance(n int64) {
	f.mu.Lock()
	f.written = n
	f.cond.Broadcast()
	f.mu.Unlock()
}

func (f *fetch) progress() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.written
}

func (f *fetch) finish(err error) {
	f.mu.Lock()
	f.done, f.err = true, err
	f.cond.Broadcast()
	f.mu.Unlock()
}

// wake makes waiters re-check their context when it ends.
func (f *fetch) wake(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		f.mu.Lock()
		f.cond.Broadcast()
		f.mu.Unlock()
	})
}

// waitStarted waits until the size is known (the upstream answered).
func (f *fetch) waitStarted(ctx context.Context) error {
	stop := f.wake(ctx)
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.started && !f.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.cond.Wait()
	}
	if !f.started {
		return f.err
	}
	return nil
}

// waitDone waits until the download ended and returns its error.
func (f *fetch) waitDone(ctx context.Context) error {
	stop := f.wake(ctx)
	defer stop()
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.done {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.cond.Wait()
	}
	return f.err
}

// reader reads the blob from the spool as the download writes it. Its
// last byte is held back until the digest is verified, so a client never
// receives a whole blob that is wrong; a failed download ends every
// reader with the error (and the client's connection with it).
func (f *fetch) reader(ctx context.Context) *spoolReader {
	return &spoolReader{f: f, ctx: ctx}
}

type spoolReader struct {
	f      *fetch
	ctx    context.Context
	off    int64
	closed bool
}

func (r *spoolReader) Read(p []byte) (int, error) {
	f := r.f
	if len(p) == 0 {
		return 0, nil
	}
	stop := f.wake(r.ctx)
	defer stop()
	f.mu.Lock()
	var avail int64
	for {
		if f.err != nil {
			f.mu.Unlock()
			return 0, f.err
		}
		avail = f.written
		if !f.done {
			avail = min(avail, f.size-1)
		}
		if r.off < avail {
			break
		}
		if f.done {
			f.mu.Unlock()
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			f.mu.Unlock()
			return 0, err
		}
		f.cond.Wait()
	}
	spool := f.spool
	f.mu.Unlock()
	n, err := spool.ReadAt(p[:min(int64(len(p)), avail-r.off)], r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// Seek implements io.Seeker for Range requests; reads wait for the bytes.
func (r *spoolReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.f.size
	default:
		return 0, errors.New("spool: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("spool: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *spoolReader) Close() error {
	if !r.closed {
		r.closed = true
		r.f.release()
	}
	return nil
}

// idleReader closes a body that delivers nothing for too long, so a
// stalled upstream fails the download instead of holding it forever.
type idleReader struct {
	rc io.ReadCloser
	d  time.Duration
	t  *time.Timer
}

func newIdleReader(rc io.ReadCloser, d time.Duration) *idleReader {
	return &idleReader{rc: rc, d: d, t: time.AfterFunc(d, func() { rc.Close() })}
}

func (r *idleReader) Read(p []byte) (int, error) {
	r.t.Reset(r.d)
	return r.rc.Read(p)
}

func (r *idleReader) Close() error {
	r.t.Stop()
	return r.rc.Close()
}
