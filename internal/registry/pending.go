package registry

import (
	"sync"
	"time"
)

// pendingUploads holds the upload sessions that have no bytes yet, in
// memory, when this process is the only instance (SQLite). Most blobs are
// pushed as a POST and one PUT with the whole body: such a session never
// touches the database; the PUT's blob row is its only write. A session
// goes to the database with its first saved chunk (a PATCH), from where it
// can be resumed after a restart. A pending session lost in a restart is
// like any session lost in a crash: the client gets BLOB_UPLOAD_UNKNOWN and
// starts the blob over (it had sent none of it yet).
type pendingUploads struct {
	max int           // sessions held at most; beyond, they go to the database
	ttl time.Duration // sessions never written for this long are dropped

	mu        sync.Mutex
	m         map[string]*pendingUpload
	lastSweep time.Time
}

type pendingUpload struct {
	u    Upload
	busy bool // a request holds the session (never dropped as stale then)
}

// maxPendingUploads bounds the memory pending sessions take (~200 bytes
// each): a client opening sessions it never uses fills the database
// instead, where garbage collection purges them.
const maxPendingUploads = 10000

func newPendingUploads(limit int, ttl time.Duration) *pendingUploads {
	return &pendingUploads{max: limit, ttl: ttl, m: make(map[string]*pendingUpload), lastSweep: time.Now()}
}

// add holds a new session; false when full (or p is nil: not a single
// instance), and the caller stores it in the database instead.
func (p *pendingUploads) add(u Upload) bool {
	if p == nil {
		return false
	}
	now := time.Now()
	u.CreatedAt, u.UpdatedAt = now, now
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= p.max || now.Sub(p.lastSweep) > min(p.ttl/10, time.Minute) {
		p.sweep(now)
	}
	if len(p.m) >= p.max {
		return false
	}
	p.m[u.ID] = &pendingUpload{u: u}
	return true
}

// sweep drops sessions idle past the TTL, as garbage collection purges
// stale sessions from the database.
func (p *pendingUploads) sweep(now time.Time) {
	p.lastSweep = now
	for id, e := range p.m {
		if !e.busy && now.Sub(e.u.CreatedAt) > p.ttl {
			delete(p.m, id)
		}
	}
}

// get returns repo's pending session id.
func (p *pendingUploads) get(repo, id string) (Upload, bool) { return p.lookup(repo, id, false) }

// hold marks repo's pending session id in use by a request (which holds
// the session's lock) and returns it.
func (p *pendingUploads) hold(repo, id string) (Upload, bool) { return p.lookup(repo, id, true) }

func (p *pendingUploads) lookup(repo, id string, hold bool) (Upload, bool) {
	if p == nil {
		return Upload{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[id]
	if !ok || e.u.Repository != repo {
		return Upload{}, false
	}
	if hold {
		e.busy = true
	}
	return e.u, true
}

// unhold ends a request's hold on a session still pending.
func (p *pendingUploads) unhold(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[id]; ok {
		e.busy = false
	}
}

// take removes session id and reports whether it was still pending (a
// repository delete may have dropped it meanwhile).
func (p *pendingUploads) take(id string) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.m[id]
	delete(p.m, id)
	return ok
}

// dropRepo removes every pending session of repo and returns their ids.
func (p *pendingUploads) dropRepo(repo string) []string {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id, e := range p.m {
		if e.u.Repository == repo {
			ids = append(ids, id)
			delete(p.m, id)
		}
	}
	return ids
}
