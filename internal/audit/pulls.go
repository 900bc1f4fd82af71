package audit

import (
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// How successful pulls are recorded (Config.Pulls). Every other event,
// and every refused or failed pull, is always recorded in full.
const (
	// PullsFull records one event per pull.
	PullsFull = "full"
	// PullsAggregate records one event per repository, reference,
	// digest, user, client address and minute, with the number of pulls
	// (meta.AuditEvent.Requests) and their mean duration.
	PullsAggregate = "aggregate"
	// PullsOff records no successful pulls.
	PullsOff = "off"
)

// CheckPulls validates a Config.Pulls value ("" is full).
func CheckPulls(mode string) error {
	switch mode {
	case "", PullsFull, PullsAggregate, PullsOff:
		return nil
	}
	return fmt.Errorf("%q is not one of full, aggregate, off", mode)
}

// maxPullKeys bounds the aggregates held in memory: past it, they are all
// written at once (an aggregate may then be split in two rows; the counts
// still add up).
const maxPullKeys = 16384

// pullKey is what makes pulls one aggregate.
type pullKey struct {
	window                                        int64 // Unix time / the window
	repository, reference, digest, user, clientIP string
}

type pullCount struct {
	n        int64
	duration time.Duration // sum
	status   int           // of the last pull (200 or 304)
}

// pullAggregator counts successful pulls per pullKey until their window
// (a minute by default) is over.
type pullAggregator struct {
	window time.Duration
	mu     sync.Mutex
	counts map[pullKey]*pullCount
}

// DefaultPullWindow is the aggregation window when Config.PullWindow is 0.
const DefaultPullWindow = time.Minute

// add counts a successful pull; it reports true when the aggregates
// should be written now (too many held).
func (a *pullAggregator) add(e meta.AuditEvent) bool {
	k := pullKey{e.Time.UnixNano() / int64(a.window), e.Repository, e.Reference, e.Digest, e.User, e.ClientIP}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.counts == nil {
		a.counts = map[pullKey]*pullCount{}
	}
	c := a.counts[k]
	if c == nil {
		c = &pullCount{}
		a.counts[k] = c
	}
	c.n++
	c.duration += e.Duration
	c.status = e.HTTPStatus
	return len(a.counts) >= maxPullKeys
}

// take removes and returns as events the aggregates of the windows
// before now's, or all of them.
func (a *pullAggregator) take(now time.Time, all bool) []meta.AuditEvent {
	current := now.UnixNano() / int64(a.window)
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []meta.AuditEvent
	for k, c := range a.counts {
		if !all && k.window >= current {
			continue
		}
		delete(a.counts, k)
		out = append(out, meta.AuditEvent{Time: time.Unix(0, k.window*int64(a.window)), Action: "pull", User: k.user,
			Repository: k.repository, Reference: k.reference, Digest: k.digest, Status: "success",
			HTTPStatus: c.status, Duration: c.duration / time.Duration(c.n), ClientIP: k.clientIP, Requests: c.n})
	}
	return out
}

// pullEvent reports whether e is a successful pull, the kind of event
// Config.Pulls decides about.
func pullEvent(e meta.AuditEvent) bool {
	return e.Action == "pull" && e.Status == "success" && e.HTTPStatus < 400
}
