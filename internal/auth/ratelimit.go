package auth

import (
	"sync"
	"time"
)

// limiter counts failed logins per key (a user name or a client address)
// in a sliding window. It lives in memory: each instance counts its own.
type limiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	failures map[string][]time.Time
}

// maxTracked bounds the keys kept; beyond it, stale keys are swept.
const maxTracked = 100000

func newLimiter(max int, window time.Duration, now func() time.Time) *limiter {
	return &limiter{max: max, window: window, now: now, failures: map[string][]time.Time{}}
}

// blocked reports whether key reached the limit within the window.
func (l *limiter) blocked(key string) bool {
	if l == nil || l.max <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.prune(key)) >= l.max
}

// fail records a failure for key.
func (l *limiter) fail(key string) {
	if l == nil || l.max <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) >= maxTracked {
		for k := range l.failures {
			l.prune(k)
		}
	}
	l.failures[key] = append(l.prune(key), l.now())
}

// prune drops failures older than the window and returns what is left.
func (l *limiter) prune(key string) []time.Time {
	ts := l.failures[key]
	cut := l.now().Add(-l.window)
	i := 0
	for i < len(ts) && !ts[i].After(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) > l.max {
		ts = ts[len(ts)-l.max:]
	}
	if len(ts) == 0 {
		delete(l.failures, key)
		return nil
	}
	l.failures[key] = ts
	return ts
}
