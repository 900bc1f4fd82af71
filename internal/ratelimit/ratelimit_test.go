package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/api"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/postgres"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/ratelimit"
)

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func newClock() *clock { return &clock{t: time.Date(2026, 12, 7, 10, 15, 0, 0, time.UTC)} }

func TestRequestsPerSecond(t *testing.T) {
	c := newClock()
	l := ratelimit.New(config.RateLimit{User: config.Limit{RequestsPerSecond: 2, Burst: 4}, Project: config.Limit{RequestsPerSecond: 100}, Sync: time.Second}, nil, discard, c.now)
	alice := ratelimit.Request{Kind: ratelimit.User, Name: "alice", Project: "team"}
	for i := range 4 {
		if err := l.Admit(http.Header{}, alice); err != nil {
			t.Fatalf("request %d of the burst: %v", i+1, err)
		}
	}
	h := http.Header{}
	err := l.Admit(h, alice)
	var le *ratelimit.Error
	if !errors.As(err, &le) {
		t.Fatalf("past the burst: %v", err)
	}
	le.SetHeaders(h)
	if h.Get("Retry-After") != "1" || h.Get("RateLimit-Limit") != "2;w=1" {
		t.Fatalf("headers %v", h)
	}
	if oe := api.ToOCI(err); oe.Code != oci.CodeTooManyRequests || oe.HTTPStatus() != 429 {
		t.Fatalf("as OCI: %+v", oe)
	}
	// Another user has a bucket of their own.
	if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.User, Name: "bob", Project: "team"}); err != nil {
		t.Fatalf("bob: %v", err)
	}
	c.add(500 * time.Millisecond) // one token back
	if err := l.Admit(http.Header{}, alice); err != nil {
		t.Fatalf("after half a second: %v", err)
	}
	if err := l.Admit(http.Header{}, alice); err == nil {
		t.Fatal("the token was used")
	}
}

func TestProjectLimitCountsEveryone(t *testing.T) {
	c := newClock()
	l := ratelimit.New(config.RateLimit{Project: config.Limit{RequestsPerSecond: 1, Burst: 3}, Sync: time.Second}, nil, discard, c.now)
	for i, who := range []string{"a", "b", "c"} {
		if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.User, Name: who, Project: "team"}); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.Anonymous, Name: "192.0.2.1", Project: "team"})
	if err == nil || err.Error() != "too many requests for project team: at most 1 a second" {
		t.Fatalf("fourth client: %v", err)
	}
	if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.User, Name: "a", Project: "other"}); err != nil {
		t.Fatalf("another project: %v", err)
	}
}

func TestManifestPullsPerHour(t *testing.T) {
	c := newClock()
	l := ratelimit.New(config.RateLimit{Anonymous: config.Limit{ManifestPullsPerHour: 3}, User: config.Limit{ManifestPullsPerHour: 10}, Sync: time.Second}, nil, discard, c.now)
	anon := ratelimit.Request{Kind: ratelimit.Anonymous, Name: "192.0.2.1", Project: "public", ManifestPull: true}
	for i := range 3 {
		h := http.Header{}
		if err := l.Admit(h, anon); err != nil {
			t.Fatalf("pull %d: %v", i+1, err)
		}
		if got, want := h.Get("RateLimit-Remaining"), []string{"2;w=3600", "1;w=3600", "0;w=3600"}[i]; got != want || h.Get("RateLimit-Limit") != "3;w=3600" {
			t.Fatalf("pull %d: headers %v, want remaining %s", i+1, h, want)
		}
	}
	// Blob GETs and HEADs are no pulls.
	if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.Anonymous, Name: "192.0.2.1", Project: "public"}); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	err := l.Admit(h, anon)
	var le *ratelimit.Error
	if !errors.As(err, &le) {
		t.Fatalf("fourth pull: %v", err)
	}
	le.SetHeaders(h)
	if h.Get("Retry-After") != "2700" || h.Get("RateLimit-Reset") != "2700" || h.Get("RateLimit-Remaining") != "0;w=3600" {
		t.Fatalf("refusal headers %v", h)
	}
	// Another address, and a user, are counted apart.
	if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.Anonymous, Name: "192.0.2.2", Project: "public", ManifestPull: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(http.Header{}, ratelimit.Request{Kind: ratelimit.User, Name: "alice", Project: "public", ManifestPull: true}); err != nil {
		t.Fatal(err)
	}
	c.add(45 * time.Minute) // the next hour
	if err := l.Admit(http.Header{}, anon); err != nil {
		t.Fatalf("next hour: %v", err)
	}
}

// Two instances on one database (SQLite; PostgreSQL with a store, a
// connection pool, each) share the pull counts: the total passes the limit
// by at most what the instances admitted between syncs.
func TestPullCountsAcrossInstances(t *testing.T) {
	ctx := context.Background()
	stores := map[string]func(t *testing.T) (meta.RateCountStore, meta.RateCountStore){
		"sqlite": func(t *testing.T) (meta.RateCountStore, meta.RateCountStore) {
			s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s, s
		},
		"postgres": func(t *testing.T) (meta.RateCountStore, meta.RateCountStore) {
			dsn := pgtest.Start(t)
			var out [2]meta.RateCountStore
			for i := range out {
				s, err := postgres.Open(ctx, dsn, postgres.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				out[i] = s
			}
			return out[0], out[1]
		},
	}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			sa, sb := open(t)
			c := newClock()
			cfg := config.RateLimit{User: config.Limit{ManifestPullsPerHour: 10}, Sync: time.Second}
			a := ratelimit.New(cfg, sa, discard, c.now)
			b := ratelimit.New(cfg, sb, discard, c.now)
			pull := ratelimit.Request{Kind: ratelimit.User, Name: "alice", ManifestPull: true}
			admitted := func(l *ratelimit.Limiter, n int) int {
				ok := 0
				for range n {
					if l.Admit(http.Header{}, pull) == nil {
						ok++
					}
				}
				return ok
			}
			sync := func(ls ...*ratelimit.Limiter) {
				for _, l := range ls {
					if err := l.Sync(ctx); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Before any sync each instance admits against its own count.
			if n := admitted(a, 4) + admitted(b, 4); n != 8 {
				t.Fatalf("admitted %d of 8 before syncing", n)
			}
			sync(a, b, a)
			// Both now know of the 8: two more in all.
			if n := admitted(a, 1) + admitted(b, 1); n != 2 {
				t.Fatalf("admitted %d of 2", n)
			}
			sync(a, b, a)
			if n := admitted(a, 5) + admitted(b, 5); n != 0 {
				t.Fatalf("admitted %d past the limit after syncing", n)
			}
			// The worst case: both admit up to the limit between syncs,
			// the error bound (N-1) x limit.
			c.add(time.Hour)
			if n := admitted(a, 10) + admitted(b, 10); n != 20 {
				t.Fatalf("admitted %d between syncs, want 20 (the bound)", n)
			}
			sync(a, b, a)
			if n := admitted(a, 1) + admitted(b, 1); n != 0 {
				t.Fatalf("admitted %d after syncing 20", n)
			}
		})
	}
}

// The cost a manifest GET pays with limits on (none without: the router
// has no admitter then).
func BenchmarkAdmitManifestPull(b *testing.B) {
	l := ratelimit.New(config.RateLimit{User: config.Limit{RequestsPerSecond: 1e9, ManifestPullsPerHour: 1 << 40},
		Project: config.Limit{RequestsPerSecond: 1e9, ManifestPullsPerHour: 1 << 40}, Sync: time.Second}, nil, discard, nil)
	req := ratelimit.Request{Kind: ratelimit.User, Name: "alice", Project: "team", ManifestPull: true}
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Admit(h, req); err != nil {
			b.Fatal(err)
		}
	}
}
