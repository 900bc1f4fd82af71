package anomaly

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
)

var ctx = context.Background()

// openStore returns a fresh SQLite store holding events in its audit log.
func openStore(t testing.TB, events []meta.AuditEvent) meta.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for len(events) > 0 {
		n := min(len(events), 20000)
		if err := s.AppendAudit(ctx, events[:n]); err != nil {
			t.Fatal(err)
		}
		events = events[n:]
	}
	return s
}

// detect runs the detector with the default configuration over the store
// and returns the stored findings (oldest first) and those reported.
func detect(t testing.TB, s meta.Store, edit func(*config.Anomaly)) ([]meta.AnomalyFinding, []meta.AnomalyFinding, Report) {
	t.Helper()
	cfg := config.Default().Anomaly
	if edit != nil {
		edit(&cfg)
	}
	var reported []meta.AnomalyFinding
	d := New(s, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(f meta.AnomalyFinding) { reported = append(reported, f) })
	rep, err := d.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.AnomalyFindings(ctx, meta.AnomalyFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(stored)
	return stored, reported, rep
}

func describe(fs []meta.AnomalyFinding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s %s %s: %s", f.Time.Format(time.RFC3339), f.Kind, f.Identity, f.ClientIP, f.Reason)
	}
	return b.String()
}

// TestNormalHistory: six weeks of ordinary activity (60 users, 6 robots,
// 10 anonymous clients; about 240,000 pulls) produce no finding (under
// the race detector: three weeks of 20 users, 3 robots, 4 clients).
// ANOMALY_SEEDS=n runs n random histories instead of one (to measure the
// false-positive rate, docs/operations.md).
func TestNormalHistory(t *testing.T) {
	days, users, robots, anon := 42, 60, 6, 10
	if raceEnabled {
		days, users, robots, anon = 21, 20, 3, 4
	}
	seeds := 1
	if v := os.Getenv("ANOMALY_SEEDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("ANOMALY_SEEDS=%q", v)
		}
		seeds = n
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := newHistory(seed)
			h.normal(days, users, robots, anon)
			events := h.sorted()
			found, _, rep := detect(t, openStore(t, events), nil)
			t.Logf("%d pulls, %d identity-days, %d checkpoints, %.0f ms: %d findings",
				len(events), days*(users+robots+anon), rep.Checkpoints, rep.DurationMS, len(found))
			if len(found) > 0 {
				t.Errorf("findings in a normal history:%s", describe(found))
			}
			if rep.Pulls != int64(len(events)) {
				t.Errorf("folded %d pulls of %d", rep.Pulls, len(events))
			}
		})
	}
}

// TestNoisyHistory measures what the detector makes of ordinary but
// irregular behaviour (history.noisy): users first working from home
// after the first week, or late on a rare evening. Those are flagged
// as new_network or off_hours, the kinds they are, and nothing else;
// the rate is logged (docs/operations.md quotes it).
func TestNoisyHistory(t *testing.T) {
	days, users, robots, anon := 42, 60, 6, 10
	if raceEnabled {
		days, users, robots, anon = 21, 20, 3, 4
	}
	h := newHistory(5)
	h.noisy(days, users, robots, anon)
	found, _, _ := detect(t, openStore(t, h.sorted()), nil)
	byKind := map[string]int{}
	for _, f := range found {
		byKind[f.Kind]++
		if f.Kind != KindNewNetwork && f.Kind != KindOffHours || !strings.HasPrefix(f.Identity, "user:") {
			t.Errorf("unexpected finding: %s %s: %s", f.Kind, f.Identity, f.Reason)
		}
	}
	idDays := days * (users + robots + anon)
	t.Logf("%d findings in %d identity-days (%.2f per 100): %v", len(found), idDays, 100*float64(len(found))/float64(idDays), byKind)
	// Each user can first work from home once and has about one late
	// evening in 20 working days: bounded well above what is seen.
	if max := users * (1 + days/20); len(found) > max {
		t.Errorf("%d findings, more than %d", len(found), max)
	}
}

// TestPlantedAnomalies: five weeks of normal history (two under the race
// detector), then on a Monday one pattern of each kind; each is found with
// its identity and reason, and nothing else is.
func TestPlantedAnomalies(t *testing.T) {
	weeks, users := 5, 40
	if raceEnabled {
		weeks, users = 2, 20
	}
	h := newHistory(7)
	h.normal(7*weeks+1, users, 4, 5)
	day := start.AddDate(0, 0, 7*weeks) // a Monday
	at := func(hh, mm int) time.Time {
		return day.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	// user3 pulls 300 images of 40 repositories it never touched, in an hour.
	for i := range 300 {
		h.pull(at(11, i/6), "user3", "172.16.3.13", fmt.Sprintf("team3/secret%d", i%40), 200)
	}
	// user9 pulls every repository of a project once: few pulls, many repositories.
	for i := range 25 {
		h.pull(at(11, 2*i), "user9", "172.16.1.19", fmt.Sprintf("finance/svc%d", i), 200)
	}
	// user5 pulls from a network it never used.
	h.pull(at(10, 30), "user5", "203.0.113.9", "team5/app1", 200)
	// user7 pulls at 3 in the morning.
	h.pull(at(3, 10), "user7", "172.16.7.17", "team7/app2", 200)
	h.pull(at(3, 12), "user7", "172.16.7.17", "team7/app3", 200)
	// An unknown address probes 40 names, each refused.
	for i := range 40 {
		status := 404
		if i%3 == 0 {
			status = 403
		}
		h.pull(at(14, i/2), "", "198.51.100.23", fmt.Sprintf("team1/guess%d", i), status)
	}
	// robot$ci1's credentials pull from its CI network and, a minute
	// later, from somewhere else.
	h.pull(at(12, 0), "robot$ci1", robotIP(1), "ci1/builder", 200)
	h.pull(at(12, 1), "robot$ci1", "192.0.2.50", "ci1/builder", 200)

	found, reported, _ := detect(t, openStore(t, h.sorted()), nil)
	t.Logf("findings:%s", describe(found))
	want := []struct {
		kind, identity, ip string
		reason             []string
	}{
		{KindBurst, "user:user3", "172.16.3.13", []string{"distinct repositories in the hour", "usual active hour: median"}},
		{KindBurst, "user:user9", "172.16.1.19", []string{"distinct repositories in the hour", "repositories (MAD"}},
		{KindNewNetwork, "user:user5", "203.0.113.9", []string{"first pull from network 203.0.113.0/24", "172.16.5.0/24"}},
		{KindOffHours, "user:user7", "172.16.7.17", []string{"pull at 03:00-03:59 UTC", "no activity between 02:00 and 04:59"}},
		{KindFailedPulls, "addr:198.51.100.23", "198.51.100.23", []string{"20 pulls refused (401/403/404) in the hour"}},
		{KindRobotNetworks, "robot:robot$ci1", "192.0.2.50", []string{"pulls from 192.168.1.0/24 and 192.0.2.0/24 within "}},
		{KindNewNetwork, "robot:robot$ci1", "192.0.2.50", []string{"first pull from network 192.0.2.0/24"}},
	}
	for _, w := range want {
		t.Run(w.kind+" "+w.identity, func(t *testing.T) {
			i := slices.IndexFunc(found, func(f meta.AnomalyFinding) bool { return f.Kind == w.kind && f.Identity == w.identity })
			if i < 0 {
				t.Fatalf("not found; findings:%s", describe(found))
			}
			f := found[i]
			if f.ClientIP != w.ip || f.Time.Before(day) || f.EventID == 0 {
				t.Errorf("finding %+v", f)
			}
			for _, r := range w.reason {
				if !strings.Contains(f.Reason, r) {
					t.Errorf("reason %q lacks %q", f.Reason, r)
				}
			}
		})
	}
	if len(found) != len(want) {
		t.Errorf("%d findings, want %d:%s", len(found), len(want), describe(found))
	}
	if len(reported) != len(found) {
		t.Errorf("%d findings reported, %d stored", len(reported), len(found))
	}
}

// cancelAfter is a store whose context is cancelled after n checkpoints,
// as when an instance stops or loses the job's lease mid-run.
type cancelAfter struct {
	meta.Store
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) SaveAnomalyBatch(ctx context.Context, b meta.AnomalyBatch) error {
	err := c.Store.SaveAnomalyBatch(ctx, b)
	if c.n--; c.n == 0 {
		c.cancel()
	}
	return err
}

// TestInterruptedRuns: a history read in small checkpoints by runs that
// are interrupted, each resuming from the stored baselines and cursor,
// gives the findings one uninterrupted run gives, none twice.
func TestInterruptedRuns(t *testing.T) {
	h := newHistory(11)
	h.normal(22, 12, 2, 2)
	day := start.AddDate(0, 0, 21) // a Monday
	h.pull(day.Add(10*time.Hour), "user4", "203.0.113.9", "team4/app1", 200)
	h.pull(day.Add(3*time.Hour), "user2", "172.16.2.12", "team2/app1", 200)
	for i := range 30 {
		h.pull(day.Add(14*time.Hour+time.Duration(i)*time.Minute), "", "198.51.100.23", fmt.Sprint("x/y", i), 404)
	}
	events := h.sorted()

	once, _, _ := detect(t, openStore(t, events), nil)
	if len(once) != 3 {
		t.Fatalf("one run: %d findings:%s", len(once), describe(once))
	}

	s := openStore(t, events)
	cfg := config.Default().Anomaly
	cfg.Batch = 1000
	runs := 0
	for {
		runs++
		rctx, cancel := context.WithCancel(ctx)
		d := New(&cancelAfter{Store: s, n: 3, cancel: cancel}, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		rep, err := d.Run(rctx)
		cancel()
		if err == nil {
			break
		}
		if rep.Checkpoints != 3 || runs > 100 {
			t.Fatalf("run %d: %+v %v", runs, rep, err)
		}
	}
	got, err := s.AnomalyFindings(ctx, meta.AnomalyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(got)
	key := func(fs []meta.AnomalyFinding) []string {
		var out []string
		for _, f := range fs {
			out = append(out, fmt.Sprint(f.Kind, " ", f.Identity, " ", f.EventID))
		}
		return out
	}
	if !slices.Equal(key(got), key(once)) {
		t.Errorf("after %d interrupted runs:%s\nwant:%s", runs, describe(got), describe(once))
	}
	t.Logf("%d events, %d runs", len(events), runs)
}
