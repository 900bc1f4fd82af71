package proxy

import "testing"

func TestHitRate(t *testing.T) {
	for _, tc := range []struct {
		part, total int64
		want        float64
	}{{0, 0, 0}, {0, 4, 0}, {1, 4, 0.25}, {4, 4, 1}} {
		if got := rate(tc.part, tc.total); got != tc.want {
			t.Errorf("rate(%d, %d) = %v, want %v", tc.part, tc.total, got, tc.want)
		}
	}
}
