package main

// Collecting results and printing the markdown table with medians, one
// Berth/peer ratio column per peer, the machine's limits and the targets.

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// sideA is Berth's column; refSide, Distribution 2.8, is the reference
// peer the older targets compare with.
const sideA, refSide = "Berth", "Distribution 2.8"

type row struct {
	section, name, unit string
	vals                map[string][]float64
	note                map[string]string
}

type results struct {
	sides  []string // column order: Berth first, then the peers
	rows   []*row
	byKey  map[string]*row
	limits []string // names, in order
	limU   map[string]string
	lim    map[string][]float64
	notes  []string
	errs   []string
}

func newResults(sides []string) *results {
	return &results{sides: sides, byKey: map[string]*row{}, lim: map[string][]float64{}, limU: map[string]string{}}
}

func (r *results) add(section, name, unit, side string, v float64) {
	k := section + "|" + name + "|" + unit
	rw := r.byKey[k]
	if rw == nil {
		rw = &row{section: section, name: name, unit: unit, vals: map[string][]float64{}, note: map[string]string{}}
		r.byKey[k] = rw
		r.rows = append(r.rows, rw)
	}
	rw.vals[side] = append(rw.vals[side], v)
}

func (r *results) annotate(section, name, unit, side, note string) {
	if rw := r.byKey[section+"|"+name+"|"+unit]; rw != nil {
		rw.note[side] = note
	}
}

func (r *results) med(section, name, unit, side string) (float64, bool) {
	rw := r.byKey[section+"|"+name+"|"+unit]
	if rw == nil || len(rw.vals[side]) == 0 {
		return 0, false
	}
	return median(rw.vals[side]), true
}

// count is the number of measurements recorded.
func (r *results) count() int {
	n := 0
	for _, rw := range r.rows {
		for _, v := range rw.vals {
			n += len(v)
		}
	}
	return n
}

// setLimit records one measurement of a machine limit; the table and the
// targets use the median.
func (r *results) setLimit(name, unit string, v float64) {
	if _, ok := r.lim[name]; !ok {
		r.limits = append(r.limits, name)
		r.limU[name] = unit
	}
	r.lim[name] = append(r.lim[name], v)
}

func (r *results) limit(name string) float64 { return median(r.lim[name]) }

// ratio is Berth/peer for a row: the median of the per-round ratios when
// both have one value per round (the values of round i were measured in
// the same round, minutes apart, so the machine's drift cancels), else the
// ratio of the medians.
func (rw *row) ratio(peer string) (float64, bool) {
	a, b := rw.vals[sideA], rw.vals[peer]
	if len(a) == 0 || len(b) == 0 {
		return 0, false
	}
	if len(a) == len(b) {
		rs := make([]float64, 0, len(a))
		for i := range a {
			if a[i] > 0 && b[i] > 0 {
				rs = append(rs, a[i]/b[i])
			}
		}
		if len(rs) == len(a) {
			return median(rs), true
		}
	}
	ma, mb := median(a), median(b)
	if ma <= 0 || mb <= 0 {
		return 0, false
	}
	return ma / mb, true
}

// pairRatio is row.ratio for the row named by section, name and unit.
func (r *results) pairRatio(section, name, unit, peer string) (float64, bool) {
	rw := r.byKey[section+"|"+name+"|"+unit]
	if rw == nil {
		return 0, false
	}
	return rw.ratio(peer)
}

func fmtNum(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 100:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// target is one of Berth's goals, checked against a measured figure.
type target struct {
	name, goal string
	berth      float64
	ok, have   bool
	detail     string
}

func (r *results) targets() []target {
	var ts []target
	get := func(sec, name, unit string) (float64, bool) { return r.med(sec, name, unit, sideA) }
	add := func(name, goal string, v float64, have, ok bool, detail string) {
		ts = append(ts, target{name: name, goal: goal, berth: v, have: have, ok: ok, detail: detail})
	}
	v, ok := get("Push", "1 blob, 1 stream", "MiB/s")
	sha := r.limit("SHA-256, one core")
	detail := fmt.Sprintf("%s MiB/s = %.0f%% of %s", fmtNum(v), 100*v/sha, fmtNum(sha))
	if w := r.limit(limitStorageWrite); w > 0 {
		detail += fmt.Sprintf(" (storage write %s MiB/s)", fmtNum(w))
	}
	add("push 1 blob, 1 stream", "≥ 90% of SHA-256 rate", v, ok, v >= 0.9*sha, detail)
	v, ok = get("Pull", "1 big blob, 1 stream", "MiB/s")
	tcp := r.limit("loopback TCP")
	add("pull 1 blob, 1 stream", "≥ 95% of loopback TCP", v, ok, v >= 0.95*tcp, fmt.Sprintf("%s MiB/s = %.0f%% of %s", fmtNum(v), 100*v/tcp, fmtNum(tcp)))
	v, ok = get("Images", "push small images, 4 clients", "images/s")
	d, dok := r.pairRatio("Images", "push small images, 4 clients", "images/s", refSide)
	add("small images, 4 clients", "≥ 5× Distribution 2.8", d, ok && dok, d >= 5, fmt.Sprintf("%.2f×", d))
	ts = append(ts, r.peerTargets()...)
	v, ok = get("Manifest", "GET, 64 conns", "req/s")
	p99, pok := get("Manifest", "GET, 64 conns, p99", "ms")
	mh := r.limit("minimal net/http, 64 conns")
	add("manifest GET, 64 conns", "≥ 50% of minimal net/http, p99 < 10 ms", v, ok && pok, v >= 0.5*mh && p99 < 10,
		fmt.Sprintf("%s req/s = %.0f%% of %s, p99 %.2f ms", fmtNum(v), 100*v/mh, fmtNum(mh), p99))
	worst, detail, have := 0.0, "", true
	for _, n := range []string{"catalog, first page", "catalog, middle page", "tag list, first page", "tag list, middle page"} {
		s, ok1 := get("Catalog", n+" (small)", "ms")
		l, ok2 := get("Catalog", n+" (large)", "ms")
		have = have && ok1 && ok2
		// "The same time within 20%": a large page 20% faster misses
		// as much as one 20% slower.
		if ok1 && ok2 && max(l/s, s/l) > worst {
			worst, detail = max(l/s, s/l), fmt.Sprintf("worst: %s %s ms (large) vs %s ms (small), %.2f×", n, fmtNum(l), fmtNum(s), l/s)
		}
	}
	add("tag list / catalog page, large vs small", "within 20%", worst, have, worst <= 1.2, detail)
	s0, ok0 := get("Start", "start to ready, empty data dir", "ms")
	s1, ok1 := get("Start", "start to ready, small catalog data dir", "ms")
	add("start to ready", "≤ 50 ms", max(s0, s1), ok0 && ok1, max(s0, s1) <= 50, fmt.Sprintf("empty %s ms, with repos %s ms", fmtNum(s0), fmtNum(s1)))
	idle, iok := get("Memory", "VmRSS idle (empty)", "MiB")
	detail = fmt.Sprintf("%s MiB", fmtNum(idle))
	if anon, ok := get("Memory", "RssAnon idle (empty)", "MiB"); ok {
		detail += fmt.Sprintf(" (anonymous %s MiB; the rest is the executable's file pages)", fmtNum(anon))
	}
	add("memory idle", "≤ 25 MiB", idle, iok, idle <= 25, detail)
	peak, pname := 0.0, ""
	for _, rw := range r.rows {
		if rw.section == "Memory" && strings.HasPrefix(rw.name, "VmRSS peak") {
			if v := median(rw.vals[sideA]); v > peak {
				peak, pname = v, rw.name
			}
		}
	}
	detail = fmt.Sprintf("%s MiB (%s)", fmtNum(peak), pname)
	if anon, ok := get("Memory", strings.Replace(pname, "VmRSS", "RssAnon", 1), "MiB"); ok {
		detail += fmt.Sprintf("; anonymous %s MiB", fmtNum(anon))
	}
	add("memory peak", "≤ 100 MiB", peak, pname != "", peak <= 100, detail)
	return ts
}

func (r *results) write(w io.Writer, header string) {
	fmt.Fprintln(w, header)
	peers := r.sides[1:]
	fmt.Fprintf(w, "\n| section | measure | unit | %s |", strings.Join(r.sides, " | "))
	for _, p := range peers {
		fmt.Fprintf(w, " %s/%s |", sideA, p)
	}
	fmt.Fprintf(w, "\n| --- | --- | --- |%s\n", strings.Repeat(" ---: |", len(r.sides)+len(peers)))
	order := map[string]int{"Push": 1, "Pull": 2, "Images": 3, "Manifest": 4, "Catalog": 5, "Start": 6, "Memory": 7}
	rows := slices.Clone(r.rows)
	slices.SortStableFunc(rows, func(a, b *row) int { return order[a.section] - order[b.section] })
	for _, rw := range rows {
		cell := func(side string) (string, float64) {
			if len(rw.vals[side]) == 0 {
				return "–", 0
			}
			m := median(rw.vals[side])
			s := fmtNum(m)
			if len(rw.vals[side]) > 1 {
				s += fmt.Sprintf(" (n=%d)", len(rw.vals[side]))
			}
			if n := rw.note[side]; n != "" {
				s += " " + n
			}
			return s, m
		}
		fmt.Fprintf(w, "| %s | %s | %s |", rw.section, rw.name, rw.unit)
		for _, sd := range r.sides {
			c, _ := cell(sd)
			fmt.Fprintf(w, " %s |", c)
		}
		for _, p := range peers {
			ratio := "–"
			if v, ok := rw.ratio(p); ok {
				ratio = fmt.Sprintf("%.2f", v)
			}
			fmt.Fprintf(w, " %s |", ratio)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "\nMachine limits, measured in this run (at the start and again in each round; medians):")
	fmt.Fprintln(w, "\n| limit | value | unit |\n| --- | ---: | --- |")
	for _, l := range r.limits {
		fmt.Fprintf(w, "| %s | %s (n=%d) | %s |\n", l, fmtNum(r.limit(l)), len(r.lim[l]), r.limU[l])
	}
	fmt.Fprintln(w, "\nBerth targets:")
	fmt.Fprintln(w, "\n| target | goal | result | measured |\n| --- | --- | --- | --- |")
	for _, t := range r.targets() {
		res := "MET"
		switch {
		case !t.have:
			res, t.detail = "n/a", "not measured"
		case !t.ok:
			res = "MISSED"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.name, t.goal, res, t.detail)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w, "\nNotes:")
		for _, n := range r.notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
	if len(r.errs) > 0 {
		fmt.Fprintln(w, "\nERRORS (unexpected statuses or wrong data):")
		for _, e := range r.errs {
			fmt.Fprintln(w, "- "+e)
		}
	}
}
