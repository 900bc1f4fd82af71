package anomaly

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// profile is the rolling baseline of one identity or repository: its
// active hours in the window (pulls, failed pulls and distinct
// repositories in each), the networks it pulled from, and what the
// current hour has already been flagged for. It is stored as JSON.
type profile struct {
	First int64            `json:"first"`          // Unix seconds of the first pull seen
	Hours hours            `json:"hours"`          // active hours in the window, oldest first; the last is the current one
	Nets  map[string]int64 `json:"nets,omitempty"` // network -> last pull from it (Unix seconds)
	Repos []string         `json:"repos,omitempty"`
	// LastNet and LastNetAt: the network of the last pull and when (robots).
	LastNet   string `json:"last_net,omitempty"`
	LastNetAt int64  `json:"last_net_at,omitempty"`
	// Flagged: kind -> the hour (Unix hours) of its last finding; one
	// finding per kind and hour.
	Flagged map[string]int64 `json:"flagged,omitempty"`

	// In memory only: the summary of the past hours (recomputed at most
	// daily), and the count of past active hours per hour of the day
	// (kept up to date hour by hour; nil: to compute).
	base  *baseline
	hod   *[24]int
	dirty bool
}

// hour is one hour with activity.
type hour struct {
	H      int64 // Unix hours
	Pulls  int   // successful pulls
	Failed int   // pulls refused with 401, 403 or 404
	Repos  int   // distinct repositories pulled (successfully or not)
}

// hours is stored as one flat JSON array, four numbers an hour, each
// hour's H as the distance from the previous one: a busy identity's
// four weeks are a few kilobytes.
type hours []hour

func (hs hours) MarshalJSON() ([]byte, error) {
	flat := make([]int64, 0, 4*len(hs))
	prev := int64(0)
	for _, h := range hs {
		flat = append(flat, h.H-prev, int64(h.Pulls), int64(h.Failed), int64(h.Repos))
		prev = h.H
	}
	return json.Marshal(flat)
}

func (hs *hours) UnmarshalJSON(b []byte) error {
	var flat []int64
	if err := json.Unmarshal(b, &flat); err != nil {
		return err
	}
	if len(flat)%4 != 0 {
		return fmt.Errorf("hours: %d numbers, not a multiple of 4", len(flat))
	}
	out := make(hours, 0, len(flat)/4)
	prev := int64(0)
	for i := 0; i < len(flat); i += 4 {
		prev += flat[i]
		out = append(out, hour{prev, int(flat[i+1]), int(flat[i+2]), int(flat[i+3])})
	}
	*hs = out
	return nil
}

// baseline summarises a profile's past hours: median and MAD of each
// count over the active hours, and which hours of the day (UTC) saw
// activity.
type baseline struct {
	at                   int64 // the current hour when it was computed
	active               int   // past active hours in the window
	pulls, failed, repos stat
}

// stat is a median and a median absolute deviation.
type stat struct{ median, mad float64 }

// above is the threshold median + k·MAD, the MAD scaled by 1.4826 (so it
// estimates a standard deviation for normal data) and at least 1, so a
// perfectly regular baseline does not make every extra pull a burst.
func (s stat) above(k float64) float64 {
	return s.median + k*max(1.4826*s.mad, 1)
}

// medianMAD computes the median and MAD of xs (which it reorders).
func medianMAD(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	m := median(xs)
	for i, x := range xs {
		if x < m {
			xs[i] = m - x
		} else {
			xs[i] = x - m
		}
	}
	return stat{m, median(xs)}
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// current returns the profile's hour h, starting it (and dropping hours
// that left the window) if it is new. Events a little out of order count
// in the current hour.
func (p *profile) current(h int64, window int64) *hour {
	n := len(p.Hours)
	if n > 0 && p.Hours[n-1].H >= h {
		return &p.Hours[n-1]
	}
	if p.hod != nil && n > 0 {
		p.hod[p.Hours[n-1].H%24]++ // the current hour becomes a past one
	}
	cut := 0
	for cut < n && p.Hours[cut].H <= h-window {
		if p.hod != nil {
			p.hod[p.Hours[cut].H%24]--
		}
		cut++
	}
	p.Hours = append(p.Hours[cut:], hour{H: h})
	p.Repos = p.Repos[:0]
	if cut > 0 {
		for net, at := range p.Nets {
			if at/3600 <= h-window {
				delete(p.Nets, net)
			}
		}
	}
	return &p.Hours[len(p.Hours)-1]
}

// past are the hours before the current one.
func (p *profile) past() hours { return p.Hours[:max(len(p.Hours)-1, 0)] }

// hourOfDay counts the past active hours per hour of the day (UTC).
func (p *profile) hourOfDay() *[24]int {
	if p.hod == nil {
		p.hod = new([24]int)
		for _, h := range p.past() {
			p.hod[h.H%24]++
		}
	}
	return p.hod
}

// baseline returns the summary of the past hours, recomputed when it is a
// day old: medians over weeks barely move in a day, and sorting every
// identity's window every hour would dominate the job's cost.
func (p *profile) baseline(h int64) *baseline {
	if p.base != nil && h-p.base.at < 24 {
		return p.base
	}
	past := p.past()
	b := &baseline{at: h, active: len(past)}
	xs := make([]float64, len(past))
	for _, f := range []struct {
		dst *stat
		get func(hour) int
	}{
		{&b.pulls, func(h hour) int { return h.Pulls }},
		{&b.failed, func(h hour) int { return h.Failed }},
		{&b.repos, func(h hour) int { return h.Repos }},
	} {
		for i, h := range past {
			xs[i] = float64(f.get(h))
		}
		*f.dst = medianMAD(xs)
	}
	p.base = b
	return b
}

// flag records a finding of kind for hour h; false if there already is one.
func (p *profile) flag(kind string, h int64) bool {
	if p.Flagged == nil {
		p.Flagged = map[string]int64{}
	}
	if p.Flagged[kind] == h {
		return false
	}
	p.Flagged[kind] = h
	return true
}

// seenFor is how long the profile has existed at t.
func (p *profile) seenFor(t time.Time) time.Duration {
	return time.Duration(t.Unix()-p.First) * time.Second
}
