package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// ErrTooManyUploads: a repository or a client has as many open upload
// sessions as allowed; the client finishes or cancels some first.
var ErrTooManyUploads = errors.New("too many open upload sessions")

// sessions counts the upload sessions this instance opened and has not
// seen end, per repository and per client (user, or address when
// anonymous), so that a POST flood cannot pile up sessions without bound,
// and expires sessions no request ever wrote to after emptyTTL instead of
// garbage collection's upload_max_age. With several instances each
// counts its own sessions: the caps hold per instance.
type sessions struct {
	perRepo, perClient int           // 0: no cap
	emptyTTL, maxAge   time.Duration // unused sessions expire; used ones are forgotten (GC purges them)

	mu        sync.Mutex
	m         map[string]*session
	repos     map[string]int
	clients   map[string]int
	lastSweep time.Time
}

type session struct {
	repo, client string
	created      time.Time
	used         time.Time // last request on it; zero: never
}

func newSessions(perRepo, perClient int, emptyTTL, maxAge time.Duration) *sessions {
	return &sessions{perRepo: perRepo, perClient: perClient, emptyTTL: emptyTTL, maxAge: maxAge,
		m: map[string]*session{}, repos: map[string]int{}, clients: map[string]int{}, lastSweep: time.Now()}
}

// add counts a new session, or refuses it past a cap. It returns the
// sessions that expired meanwhile (never used within emptyTTL), for the
// caller to discard.
func (ss *sessions) add(id, repo, client string) (expired []expiredSession, err error) {
	now := time.Now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if now.Sub(ss.lastSweep) > min(ss.emptyTTL/10, time.Minute) ||
		(ss.perRepo > 0 && ss.repos[repo] >= ss.perRepo) || (ss.perClient > 0 && client != "" && ss.clients[client] >= ss.perClient) {
		expired = ss.sweep(now)
	}
	if ss.perRepo > 0 && ss.repos[repo] >= ss.perRepo {
		return expired, fmt.Errorf("%w: repository %s has %d open upload sessions (registry.upload_sessions_per_repository); finish or cancel some, or wait for unused ones to expire (%v)",
			ErrTooManyUploads, repo, ss.repos[repo], ss.emptyTTL)
	}
	if ss.perClient > 0 && client != "" && ss.clients[client] >= ss.perClient {
		return expired, fmt.Errorf("%w: %s has %d open upload sessions (registry.upload_sessions_per_client); finish or cancel some, or wait for unused ones to expire (%v)",
			ErrTooManyUploads, client, ss.clients[client], ss.emptyTTL)
	}
	ss.m[id] = &session{repo: repo, client: client, created: now}
	ss.repos[repo]++
	if client != "" {
		ss.clients[client]++
	}
	return expired, nil
}

// use records a request on a session.
func (ss *sessions) use(id string) {
	ss.mu.Lock()
	if s := ss.m[id]; s != nil {
		s.used = time.Now()
	}
	ss.mu.Unlock()
}

// end forgets a session that completed or was discarded.
func (ss *sessions) end(id string) {
	ss.mu.Lock()
	if s := ss.m[id]; s != nil {
		ss.drop(id, s)
	}
	ss.mu.Unlock()
}

func (ss *sessions) drop(id string, s *session) {
	delete(ss.m, id)
	if ss.repos[s.repo]--; ss.repos[s.repo] <= 0 {
		delete(ss.repos, s.repo)
	}
	if s.client != "" {
		if ss.clients[s.client]--; ss.clients[s.client] <= 0 {
			delete(ss.clients, s.client)
		}
	}
}

// expiredSession is a session to discard.
type expiredSession struct{ id, repo string }

// sweep forgets sessions never used for emptyTTL (returned, to be
// discarded) and used ones idle past maxAge (garbage collection purges
// those).
func (ss *sessions) sweep(now time.Time) []expiredSession {
	ss.lastSweep = now
	var expired []expiredSession
	for id, s := range ss.m {
		switch {
		case s.used.IsZero() && now.Sub(s.created) > ss.emptyTTL:
			expired = append(expired, expiredSession{id: id, repo: s.repo})
			ss.drop(id, s)
		case !s.used.IsZero() && now.Sub(s.used) > ss.maxAge:
			ss.drop(id, s)
		}
	}
	return expired
}

type clientKey struct{}

// WithClient records who makes a request (a user name, or the address of
// an anonymous client), against whom upload sessions are counted.
func WithClient(ctx context.Context, client string) context.Context {
	if client == "" {
		return ctx
	}
	return context.WithValue(ctx, clientKey{}, client)
}

func client(ctx context.Context) string {
	c, _ := ctx.Value(clientKey{}).(string)
	return c
}

// admitSession counts a new session of repo for client, discarding the
// unused sessions that expired meanwhile.
func (s *Service) admitSession(ctx context.Context, id, repo, client string) error {
	expired, err := s.sessions.add(id, repo, client)
	if len(expired) > 0 {
		go s.expireSessions(context.WithoutCancel(ctx), expired)
	}
	return err
}

// expireSessions discards sessions that no request used within the empty
// TTL, if they still hold no bytes: under the session's lock, and in the
// store only if no instance wrote or leased it since.
func (s *Service) expireSessions(ctx context.Context, list []expiredSession) {
	before := time.Now().Add(-s.opts.EmptyUploadTTL)
	for _, e := range list {
		id, repo := e.id, e.repo
		unlock := s.lockUpload(id)
		if _, ok := s.pending.get(repo, id); ok {
			s.pending.take(id)
		} else if u, err := s.meta.Upload(ctx, repo, id); err == nil && u.Size == 0 {
			if gone, err := s.meta.DeleteStaleUpload(ctx, id, before); err != nil {
				s.log.WarnContext(ctx, "expiring an unused upload session", "repo", repo, "upload", id, "error", err)
			} else if gone {
				if err := s.blobs.DeleteUpload(ctx, id); err != nil {
					s.log.WarnContext(ctx, "expiring an unused upload session: its file", "repo", repo, "upload", id, "error", err)
				}
			}
		} else if err != nil && !errors.Is(err, meta.ErrNotFound) {
			s.log.WarnContext(ctx, "expiring an unused upload session", "repo", repo, "upload", id, "error", err)
		}
		unlock()
		s.uploadLocks.Delete(id)
	}
}
