package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/meta"
)

// A generated audit history: users who pull on weekdays during their
// working hours from their office or home network, robots that pull every
// hour of every day from their CI network, and anonymous clients pulling
// public images during the day. Counts per hour are Poisson-distributed
// around each identity's own rate, and some pulls fail (a mistyped tag).

// start is a Monday, 00:00 UTC.
var start = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

type history struct {
	rng    *rand.Rand
	events []meta.AuditEvent
}

func newHistory(seed uint64) *history {
	return &history{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// poisson draws from a Poisson distribution of mean m (Knuth).
func (h *history) poisson(m float64) int {
	l, k, p := math.Exp(-m), 0, 1.0
	for {
		p *= h.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func (h *history) pull(at time.Time, user, ip, repo string, status int) {
	h.events = append(h.events, meta.AuditEvent{Time: at, Action: "pull", User: user, Repository: repo,
		Reference: "latest", Status: map[bool]string{true: "success", false: "failure"}[status < 400],
		HTTPStatus: status, ClientIP: ip})
}

// within returns a random instant of the hour starting at t.
func (h *history) within(t time.Time) time.Time {
	return t.Add(time.Duration(h.rng.Int64N(int64(time.Hour))))
}

// normal generates days of ordinary activity for users, robots and
// anonymous clients.
func (h *history) normal(days, users, robots, anon int) { h.generate(days, users, robots, anon, false) }

// noisy is normal, but users work from home on whole days (a fifth of
// them, so some first do so after the first week) and stay two or three
// hours late on one day in twenty: behaviour the detector rightly calls
// new, in an otherwise ordinary history.
func (h *history) noisy(days, users, robots, anon int) { h.generate(days, users, robots, anon, true) }

func (h *history) generate(days, users, robots, anon int, noisy bool) {
	for u := range users {
		name := fmt.Sprintf("user%d", u)
		office, home := fmt.Sprintf("172.16.%d.%d", u%8, 10+u), fmt.Sprintf("10.%d.%d.7", u/250, u%250)
		rate := 3 + h.rng.Float64()*12 // pulls per working hour
		first, last := 7+h.rng.IntN(3), 16+h.rng.IntN(3)
		repos := make([]string, 2+h.rng.IntN(5))
		for i := range repos {
			repos[i] = fmt.Sprintf("team%d/app%d", u%10, h.rng.IntN(12))
		}
		for d := range days {
			day := start.AddDate(0, 0, d)
			if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
				continue
			}
			from, to := first+h.rng.IntN(2), last-h.rng.IntN(2)
			homeDay := h.rng.Float64() < 0.2
			if noisy && h.rng.Float64() < 0.05 {
				to += 2 + h.rng.IntN(2)
			}
			for hr := from; hr <= to; hr++ {
				if h.rng.Float64() < 0.2 { // meetings
					continue
				}
				t := day.Add(time.Duration(hr) * time.Hour)
				for range h.poisson(rate) {
					ip := office
					if noisy && homeDay || !noisy && h.rng.Float64() < 0.2 {
						ip = home
					}
					status := 200
					if h.rng.Float64() < 0.02 {
						status = 404
					}
					h.pull(h.within(t), name, ip, repos[h.rng.IntN(len(repos))], status)
				}
			}
		}
	}
	for r := range robots {
		name := fmt.Sprintf("robot$ci%d", r)
		ip := robotIP(r)
		rate := 5 + h.rng.Float64()*25
		repos := []string{fmt.Sprintf("ci%d/builder", r), fmt.Sprintf("ci%d/runner", r), "library/base"}
		for hr := range days * 24 {
			t := start.Add(time.Duration(hr) * time.Hour)
			for range h.poisson(rate) {
				h.pull(h.within(t), name, ip, repos[h.rng.IntN(len(repos))], 200)
			}
		}
	}
	for a := range anon {
		ip := fmt.Sprintf("100.64.%d.%d", a, 1+h.rng.IntN(250))
		for d := range days {
			day := start.AddDate(0, 0, d)
			for hr := 9; hr <= 17; hr++ {
				t := day.Add(time.Duration(hr) * time.Hour)
				for range h.poisson(1.5) {
					h.pull(h.within(t), "", ip, "public/tool", 200)
				}
			}
		}
	}
}

// sorted returns the events in time order, as the audit log holds them.
func (h *history) sorted() []meta.AuditEvent {
	slices.SortStableFunc(h.events, func(a, b meta.AuditEvent) int { return a.Time.Compare(b.Time) })
	return h.events
}

// robotIP is robot r's CI network address.
func robotIP(r int) string { return fmt.Sprintf("192.168.%d.20", r) }
