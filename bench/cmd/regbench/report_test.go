package main

import (
	"math"
	"strings"
	"testing"
)

func TestRowRatio(t *testing.T) {
	tests := []struct {
		name        string
		berth, peer []float64
		want        float64
		ok          bool
	}{
		{"paired: median of per-round ratios", []float64{100, 300, 200}, []float64{50, 100, 400}, 2, true},
		{"unequal counts: ratio of medians", []float64{100, 300}, []float64{100}, 2, true},
		{"no peer value", []float64{100}, nil, 0, false},
		{"a zero falls back to medians", []float64{0, 200, 400}, []float64{100, 100, 100}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := &row{vals: map[string][]float64{sideA: tt.berth, "zot": tt.peer}}
			got, ok := rw.ratio("zot")
			if ok != tt.ok || math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("ratio = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestPeerTargets(t *testing.T) {
	r := newResults([]string{sideA, refSide, "Distribution 3", "zot"})
	for i, v := range []float64{100, 100, 50} { // Berth, Distribution 3, zot
		side := []string{sideA, "Distribution 3", "zot"}[i]
		r.add("Pull", "1 big blob, 1 stream", "MiB/s", side, v)
		r.add("Catalog", "catalog, first page (small)", "ms", side, map[int]float64{0: 1, 1: 2, 2: 0.5}[i])
	}
	r.setLimit("minimal sendfile server: pull 1 × 1 GiB, 1 stream", "MiB/s", 105)
	got := map[string]target{}
	for _, tg := range r.peerTargets() {
		got[tg.name] = tg
	}
	if tg := got["every workload vs Distribution 3"]; !tg.have || !tg.ok {
		t.Errorf("vs Distribution 3: %+v, want met (level on pulls, faster pages)", tg)
	}
	if tg := got["every workload vs zot"]; !tg.have || tg.ok || !strings.Contains(tg.detail, "catalog, first page") {
		t.Errorf("vs zot: %+v, want missed on the catalog page only", tg)
	}
	if tg := got["pull 1 big blob, 1 stream vs the faster peer"]; tg.ok || !strings.Contains(tg.detail, "Distribution 3") {
		t.Errorf("faster peer: %+v, want missed against Distribution 3 (1.00×)", tg)
	}
	if tg := got["pull 1 big blob, 1 stream vs the sendfile server"]; !tg.have || !tg.ok {
		t.Errorf("sendfile: %+v, want met (95%%)", tg)
	}
}
