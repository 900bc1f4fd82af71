package anomaly

import (
	"encoding/json"
	"slices"
	"time"
)

// profile is the rolling baseline of one identity or repository: its
// active hours in the window (pulls, failed pulls and distinct
// repositories in each), the networks it pulled from, and what the
// current hour has already been flagged for. It is stored as JSON.
type profile struct {
	First int64            `json:"first"`          // Unix seconds of the first pull seen
	Hours []hour           `json:"hours"`          // active hours in the window, oldest first; the last is the current one
	Nets  map[string]int64 `json:"nets,omitempty"` // network -> last pull from it (Unix seconds)
	Repos []string         `json:"repos,omitempty"`
	// LastNet and LastNetAt: the network of the last pull and when (robots).
	LastNet   string `json:"last_net,omitempty"`
	LastNetAt int64  `json:"last_net_at,omitempty"`
	// Flagged: kind -> the hour (Unix hours) of its last finding; one
	// finding per kind and hour.
	Flagged map[string]int64 `json:"flagged,omitempty"`

	base  *baseline // of the hours before the current one; nil: to compute
	dirty bool
}

// hour is one hour with activity, encoded compactly as [hour, pulls,
// failed, repositories].
type hour struct {
	H      int64 // Unix hours
	Pulls  int   // successful pulls
	Failed int   // pulls refused with 401, 403 or 404
	Repos  int   // distinct repositories pulled (successfully or not)
}

func (h hour) MarshalJSON() ([]byte, error) {
	return json.Marshal([4]int64{h.H, int64(h.Pulls), int64(h.Failed), int64(h.Repos)})
}

func (h *hour) UnmarshalJSON(b []byte) error {
	var a [4]int64
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*h = hour{a[0], int(a[1]), int(a[2]), int(a[3])}
	return nil
}

// baseline summarises a profile's past hours: median and MAD of each
// count over the active hours, and which hours of the day (UTC) saw
// activity.
type baseline struct {
	active               int
	pulls, failed, repos stat
	hourOfDay            [24]int
	oldest               int64 // Unix hours of the oldest active hour in the window
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
	if n := len(p.Hours); n > 0 && p.Hours[n-1].H >= h {
		return &p.Hours[n-1]
	}
	cut := 0
	for cut < len(p.Hours) && p.Hours[cut].H <= h-window {
		cut++
	}
	p.Hours = append(p.Hours[cut:], hour{H: h})
	p.Repos = p.Repos[:0]
	p.base = nil
	for net, at := range p.Nets {
		if at/3600 <= h-window {
			delete(p.Nets, net)
		}
	}
	return &p.Hours[len(p.Hours)-1]
}

// baseline returns the summary of the hours before the current one.
func (p *profile) baseline() *baseline {
	if p.base != nil {
		return p.base
	}
	past := p.Hours[:max(len(p.Hours)-1, 0)]
	b := &baseline{active: len(past)}
	if len(past) > 0 {
		b.oldest = past[0].H
	}
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
	for _, h := range past {
		b.hourOfDay[h.H%24]++
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
