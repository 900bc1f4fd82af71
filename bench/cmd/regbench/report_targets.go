package main

// The targets against Distribution 3 and zot (issue 20), from the paired
// Berth/peer ratios.

import (
	"fmt"
	"slices"
	"strings"
)

// higherIsBetter reports whether a row's unit is a rate.
func higherIsBetter(unit string) bool {
	return unit == "MiB/s" || unit == "req/s" || unit == "images/s" || unit == "blobs/s" || unit == "repos/s"
}

func (r *results) peerTargets() []target {
	var ts []target
	add := func(name, goal string, v float64, have, ok bool, detail string) {
		ts = append(ts, target{name: name, goal: goal, berth: v, have: have, ok: ok, detail: detail})
	}
	var peers []string
	for _, p := range r.sides[1:] {
		if p == "Distribution 3" || p == "zot" {
			peers = append(peers, p)
		}
	}
	// Every rate of the suite at least level with each peer, and every
	// catalog or tag-list page at most as slow.
	for _, p := range peers {
		var misses []string
		n := 0
		for _, rw := range r.rows {
			page := rw.section == "Catalog" && rw.unit == "ms"
			if !page && (!higherIsBetter(rw.unit) || rw.section == "Catalog") {
				continue
			}
			v, ok := rw.ratio(p)
			if !ok {
				continue
			}
			n++
			if page {
				v = 1 / v // peer time / Berth time
			}
			if v < 1 {
				misses = append(misses, fmt.Sprintf("%s %s %.2f×", strings.ToLower(rw.section), rw.name, v))
			}
		}
		detail := fmt.Sprintf("%d of %d at ≥ 1.0×", n-len(misses), n)
		if len(misses) > 0 {
			detail += "; below: " + strings.Join(misses, ", ")
		}
		add("every workload vs "+p, "≥ 1.0× "+p, 0, n > 0, len(misses) == 0, detail)
	}
	// Big-blob pulls: ahead of the faster peer, close to the sendfile server.
	for _, w := range []struct{ name, limit string }{
		{"1 big blob, 1 stream", "1 stream"},
		{"4 big blobs, 4 streams", "4 streams"},
	} {
		worst, wp, have := 0.0, "", false
		for _, p := range peers {
			if v, ok := r.pairRatio("Pull", w.name, "MiB/s", p); ok && (!have || v < worst) {
				worst, wp, have = v, p, true
			}
		}
		add("pull "+w.name+" vs the faster peer", "≥ 1.1×", worst, have, worst >= 1.1, fmt.Sprintf("%.2f× %s", worst, wp))
		v, ok := r.med("Pull", w.name, "MiB/s", sideA)
		var ceil float64
		for _, l := range r.limits {
			if strings.HasPrefix(l, "minimal sendfile server") && strings.HasSuffix(l, w.limit) {
				ceil = r.limit(l)
			}
		}
		add("pull "+w.name+" vs the sendfile server", "≥ 90%", v, ok && ceil > 0, v >= 0.9*ceil,
			fmt.Sprintf("%s MiB/s = %.0f%% of %s", fmtNum(v), 100*v/ceil, fmtNum(ceil)))
	}
	// Small images and manifests.
	for _, g := range []struct {
		sec, name, unit, peer string
		want                  float64
	}{
		{"Images", "push small images, 4 clients", "images/s", "Distribution 3", 2},
		{"Images", "push small images, 4 clients", "images/s", "zot", 4},
		{"Manifest", "GET, 16 conns", "req/s", "zot", 1.5},
		{"Manifest", "GET, 64 conns", "req/s", "zot", 1.5},
	} {
		if !slices.Contains(peers, g.peer) {
			continue
		}
		v, ok := r.pairRatio(g.sec, g.name, g.unit, g.peer)
		add(strings.ToLower(g.sec)+" "+g.name+" vs "+g.peer, fmt.Sprintf("≥ %.1f×", g.want), v, ok, v >= g.want, fmt.Sprintf("%.2f×", v))
	}
	for _, c := range []string{"16", "64"} {
		p99, ok := r.med("Manifest", "GET, "+c+" conns, p99", "ms", sideA)
		mh := r.limit("minimal net/http, 64 conns, p99")
		add("manifest GET, "+c+" conns, p99", "≤ 1.5× minimal net/http p99 (64 conns)", p99, ok && mh > 0, p99 <= 1.5*mh,
			fmt.Sprintf("%.2f ms vs %.2f ms", p99, mh))
	}
	return ts
}
