package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// Hold keeps another job from running, on every instance, until release
// is called: it takes that job's lease (waiting, polling every second,
// while a run of it is in flight anywhere) and renews it. A backup holds
// garbage collection this way, so no blob its snapshot lists is deleted
// before it is copied. The returned context ends when ctx does or when
// the lease is lost; work that needs the hold must stop then. A run of
// the held job that was interrupted resumes after release.
func (s *Scheduler) Hold(ctx context.Context, name string) (held context.Context, release func(), err error) {
	mu := s.busy[name] // nil when the job is not registered here
	for {
		if mu == nil || mu.TryLock() {
			_, err = s.store.AcquireJob(ctx, name, s.opts.Owner, s.opts.Lease)
			if err == nil {
				break
			}
			if mu != nil {
				mu.Unlock()
			}
			if !errors.Is(err, meta.ErrConflict) {
				return nil, nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		s.renew(rctx, name, cancel)
	}()
	release = func() {
		cancel(nil)
		<-renewed
		if err := s.store.ReleaseJob(context.WithoutCancel(ctx), name, s.opts.Owner); err != nil {
			s.opts.Log.Warn("job lease release", "job", name, "error", err)
		}
		if mu != nil {
			mu.Unlock()
		}
	}
	return rctx, release, nil
}
