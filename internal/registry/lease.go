package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// uploadLease is a request's hold on an upload session: this process's
// mutex for the session, and the session's lease in the metadata store,
// which keeps other instances from writing it meanwhile. The lease is
// renewed every third of its TTL until release, so a body that streams for
// minutes keeps it; if this process dies, it expires and another instance
// may take the session over.
type uploadLease struct {
	s        *Service
	repo, id string
	// ctx is the request's context, cancelled with ErrUploadBusy as its
	// cause should the lease be lost (renewals failed until it expired and
	// another instance took it): the request must then stop writing.
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	wg     sync.WaitGroup
	unlock func()
	// ended: the session is gone (completed or discarded), so there is
	// no lease left to release.
	ended bool
	// local: only the in-process lock is held (SingleInstance).
	local bool
	// pending: the session is held in memory, not in the store, until
	// its first chunk is saved (pendingUploads).
	pending bool
}

// acquireUpload takes the upload session for one request and returns it
// with the lease. ErrUploadBusy when another instance is writing it.
func (s *Service) acquireUpload(ctx context.Context, repo, id string) (Upload, *uploadLease, error) {
	unlock := s.lockUpload(id)
	s.sessions.use(id)
	if s.opts.SingleInstance {
		// No other instance: the in-process lock is the whole guard.
		u, pending := s.pending.hold(repo, id)
		if !pending {
			var err error
			if u, err = s.meta.Upload(ctx, repo, id); err != nil {
				unlock()
				return Upload{}, nil, uploadErr(err, id)
			}
		}
		l := &uploadLease{s: s, repo: repo, id: id, stop: make(chan struct{}), unlock: unlock, local: true, pending: pending}
		l.ctx, l.cancel = context.WithCancelCause(ctx)
		return u, l, nil
	}
	u, err := s.meta.AcquireUpload(ctx, repo, id, s.owner, s.opts.UploadLease)
	if err != nil {
		unlock()
		if errors.Is(err, meta.ErrConflict) {
			return Upload{}, nil, fmt.Errorf("%w: %s", ErrUploadBusy, id)
		}
		return Upload{}, nil, uploadErr(err, id)
	}
	l := &uploadLease{s: s, repo: repo, id: id, stop: make(chan struct{}), unlock: unlock}
	l.ctx, l.cancel = context.WithCancelCause(ctx)
	l.wg.Go(l.renew)
	return u, l, nil
}

// renew extends the lease every third of its TTL until release.
func (l *uploadLease) renew() {
	ctx := context.WithoutCancel(l.ctx) // also while saving after the client left
	t := time.NewTicker(l.s.opts.UploadLease / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		_, err := l.s.meta.AcquireUpload(ctx, l.repo, l.id, l.s.owner, l.s.opts.UploadLease)
		switch {
		case errors.Is(err, meta.ErrConflict), errors.Is(err, meta.ErrNotFound):
			l.cancel(fmt.Errorf("%w: %s: this request's lease was lost", ErrUploadBusy, l.id))
			return
		case err != nil: // the next renewal may get through before expiry
			l.s.log.WarnContext(ctx, "renew upload lease", "upload", l.id, "error", err)
		}
	}
}

// lost reports why the lease was lost, or nil while it is held.
func (l *uploadLease) lost() error {
	if err := context.Cause(l.ctx); errors.Is(err, ErrUploadBusy) {
		return err
	}
	return nil
}

// release stops renewing, gives the lease back and unlocks the session.
func (l *uploadLease) release() {
	close(l.stop)
	l.wg.Wait()
	l.cancel(nil)
	if !l.ended && !l.local && l.lost() == nil {
		ctx := context.WithoutCancel(l.ctx)
		if err := l.s.meta.ReleaseUpload(ctx, l.repo, l.id, l.s.owner); err != nil {
			// It expires by itself.
			l.s.log.WarnContext(ctx, "release upload lease", "upload", l.id, "error", err)
		}
	}
	if l.pending {
		l.s.pending.unhold(l.id)
	}
	l.unlock()
}

// lockUpload serialises work on one upload session and returns the unlock.
func (s *Service) lockUpload(id string) func() {
	v, _ := s.uploadLocks.LoadOrStore(id, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// forgetUpload drops the lock of a finished upload session.
func (s *Service) forgetUpload(id string) {
	s.uploadLocks.Delete(id)
	s.sessions.end(id)
}

// leasedReader stops a body being copied once its request lost the lease.
type leasedReader struct {
	l *uploadLease
	r io.Reader
}

func (r leasedReader) Read(p []byte) (int, error) {
	if err := r.l.lost(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
