// Package ratelimit bounds how fast clients use the registry, Docker Hub
// style: requests per second and manifest pulls per hour, per user, robot,
// anonymous client address and project (config rate_limit).
//
// Requests per second are token buckets in each instance's memory. Pulls
// per hour are counted in fixed hourly windows: each instance counts its
// own pulls in memory and, every rate_limit.sync, adds them to the
// database's counts (meta.RateCountStore) and reads the totals back. A pull
// is admitted when the last total read plus the pulls this instance
// admitted since is under the limit, so no request waits for the database.
// Across N instances the count can therefore pass the limit by what the
// other N-1 instances admitted since their last sync: at most (N-1) x
// (pulls one instance admits in one sync interval), and never more than
// (N-1) x the limit.
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/oci"
)

// Kinds of clients.
const (
	User      = "user"
	Robot     = "robot"
	Anonymous = "anonymous"
)

// Request is what the limiter needs to know of a request.
type Request struct {
	Kind    string // User, Robot or Anonymous
	Name    string // the user or robot name, or the anonymous client's address
	Project string // "" for requests outside repositories (/v2/, catalog)
	// ManifestPull: a manifest GET, counted against the pulls per hour.
	ManifestPull bool
}

// maxKeys bounds the keys held in memory; past it they start afresh.
const maxKeys = 100_000

// Limiter decides whether requests may run now. It is safe for
// concurrent use.
type Limiter struct {
	cfg   config.RateLimit
	store meta.RateCountStore // nil: counts stay in this instance
	log   *slog.Logger
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	pulls   map[string]*counter
	window  time.Time // the hour being counted
}

type bucket struct {
	tokens float64
	last   time.Time
}

// counter is one key's pulls in the current window.
type counter struct {
	synced  int64 // the total across instances at the last sync
	pending int64 // admitted here since the last sync
}

// New returns a limiter; store, if not nil, shares the pull counts.
func New(cfg config.RateLimit, store meta.RateCountStore, log *slog.Logger, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{cfg: cfg, store: store, log: log, now: now, buckets: map[string]*bucket{}, pulls: map[string]*counter{}}
}

// limitFor is the limit of a kind of client.
func (l *Limiter) limitFor(kind string) config.Limit {
	switch kind {
	case User:
		return l.cfg.User
	case Robot:
		return l.cfg.Robot
	}
	return l.cfg.Anonymous
}

type check struct {
	key   string
	what  string // for the message: "user alice", "project team"
	limit config.Limit
}

// Admit decides whether req may run now. On a manifest pull it sets the
// RateLimit-* headers of the pull limit that is closest to its end (and
// Docker Hub's ratelimit-limit and ratelimit-remaining); a refusal is an
// *Error (429 TOOMANYREQUESTS with Retry-After).
func (l *Limiter) Admit(h http.Header, req Request) error {
	checks := make([]check, 0, 2)
	checks = append(checks, check{key: req.Kind[:1] + ":" + req.Name, what: req.Kind + " " + req.Name, limit: l.limitFor(req.Kind)})
	if req.Project != "" {
		checks = append(checks, check{key: "p:" + req.Project, what: "project " + req.Project, limit: l.cfg.Project})
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buckets) > maxKeys {
		clear(l.buckets)
	}
	// Requests per second: every bucket must have a token.
	for _, c := range checks {
		if c.limit.RequestsPerSecond <= 0 {
			continue
		}
		if wait := l.bucketWait(c, now); wait > 0 {
			return &Error{msg: fmt.Sprintf("too many requests for %s: at most %g a second", c.what, c.limit.RequestsPerSecond),
				retry: wait, limit: int64(math.Ceil(c.limit.RequestsPerSecond)), window: time.Second}
		}
	}
	if !req.ManifestPull {
		l.takeTokens(checks, now)
		return nil
	}
	// Pulls per hour: every counter must be under its limit.
	if w := now.Truncate(time.Hour); !w.Equal(l.window) {
		l.window = w
		clear(l.pulls)
	}
	reset := l.window.Add(time.Hour).Sub(now)
	var tightest *check
	var tightestLeft int64 = math.MaxInt64
	for i, c := range checks {
		max := int64(c.limit.ManifestPullsPerHour)
		if max <= 0 {
			continue
		}
		n := l.counter(c.key)
		used := n.synced + n.pending
		if used >= max {
			return &Error{msg: fmt.Sprintf("too many manifest pulls for %s: at most %d an hour", c.what, max),
				retry: reset, limit: max, remaining: 0, window: time.Hour, reset: reset}
		}
		if left := max - used - 1; left < tightestLeft {
			tightest, tightestLeft = &checks[i], left
		}
	}
	l.takeTokens(checks, now)
	for _, c := range checks {
		if c.limit.ManifestPullsPerHour > 0 {
			l.counter(c.key).pending++
		}
	}
	if tightest != nil {
		setHeaders(h, int64(tightest.limit.ManifestPullsPerHour), tightestLeft, time.Hour, reset)
	}
	return nil
}

func (l *Limiter) counter(key string) *counter {
	n, ok := l.pulls[key]
	if !ok {
		if len(l.pulls) > maxKeys {
			clear(l.pulls)
		}
		n = &counter{}
		l.pulls[key] = n
	}
	return n
}

// bucketWait refills c's bucket and returns how long until it has a
// token (0: it has one now).
func (l *Limiter) bucketWait(c check, now time.Time) time.Duration {
	b, ok := l.buckets[c.key]
	burst := float64(c.limit.Burst)
	if burst <= 0 {
		burst = math.Max(1, c.limit.RequestsPerSecond)
	}
	if !ok {
		b = &bucket{tokens: burst, last: now}
		l.buckets[c.key] = b
	}
	b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*c.limit.RequestsPerSecond)
	b.last = now
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / c.limit.RequestsPerSecond * float64(time.Second))
}

func (l *Limiter) takeTokens(checks []check, now time.Time) {
	for _, c := range checks {
		if c.limit.RequestsPerSecond > 0 {
			l.buckets[c.key].tokens--
		}
	}
}

// Sync adds this instance's pulls since the last sync to the shared counts
// and takes the totals; it also forgets idle, full buckets.
func (l *Limiter) Sync(ctx context.Context) error {
	l.mu.Lock()
	window := l.window
	deltas := make(map[string]int64, len(l.pulls))
	for k, n := range l.pulls {
		deltas[k] = n.pending
	}
	now := l.now()
	for k, b := range l.buckets {
		if now.Sub(b.last) > time.Minute {
			delete(l.buckets, k)
		}
	}
	l.mu.Unlock()
	if l.store == nil || window.IsZero() || len(deltas) == 0 {
		return nil
	}
	totals, err := l.store.AddRateCounts(ctx, window, deltas)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.window.Equal(window) {
		return nil // a new hour began meanwhile
	}
	for k, total := range totals {
		if n, ok := l.pulls[k]; ok {
			n.pending -= deltas[k] // pulls admitted during the sync stay pending
			n.synced = total
		}
	}
	return nil
}

// Run syncs every rate_limit.sync until ctx ends.
func (l *Limiter) Run(ctx context.Context) {
	t := time.NewTicker(l.cfg.Sync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.Sync(ctx); err != nil && ctx.Err() == nil {
				l.log.WarnContext(ctx, "rate limits: sharing pull counts failed; counting locally until the next sync", "error", err)
			}
		}
	}
}

// Error is a refusal: 429 TOOMANYREQUESTS with Retry-After and the
// RateLimit-* headers of the limit that refused.
type Error struct {
	msg       string
	retry     time.Duration
	limit     int64
	remaining int64
	window    time.Duration
	reset     time.Duration
}

func (e *Error) Error() string { return e.msg }

// Unwrap makes the refusal an OCI error for api.WriteError.
func (e *Error) Unwrap() error { return oci.NewError(oci.CodeTooManyRequests, e.msg) }

// SetHeaders sets Retry-After and the RateLimit-* headers.
func (e *Error) SetHeaders(h http.Header) {
	secs := int64(math.Ceil(e.retry.Seconds()))
	if secs < 1 {
		secs = 1
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	reset := e.reset
	if reset == 0 {
		reset = e.retry
	}
	setHeaders(h, e.limit, e.remaining, e.window, reset)
}

// setHeaders sets RateLimit-Limit, -Remaining and -Reset (the IETF
// draft's names; header names are case-insensitive, so they are also
// Docker Hub's ratelimit-limit and ratelimit-remaining, whose "N;w=SECONDS"
// form the values take).
func setHeaders(h http.Header, limit, remaining int64, window, reset time.Duration) {
	w := strconv.FormatInt(int64(window.Seconds()), 10)
	h.Set("RateLimit-Limit", strconv.FormatInt(limit, 10)+";w="+w)
	h.Set("RateLimit-Remaining", strconv.FormatInt(remaining, 10)+";w="+w)
	h.Set("RateLimit-Reset", strconv.FormatInt(max(1, int64(math.Ceil(reset.Seconds()))), 10))
}
