package registry

import (
	"slices"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"1.2.3", true}, {"v1.2.3", true}, {"v1", true}, {"1.2", true}, {"1.2.3-rc.1", true}, {"1.2.3+build.5", true},
		{"latest", false}, {"1.2.3.4", false}, {"v", false}, {"1..2", false}, {"1.x", false}, {"", false},
	}
	for _, tc := range tests {
		if _, ok := parseVersion(tc.in); ok != tc.ok {
			t.Errorf("parseVersion(%q) ok = %v, want %v", tc.in, ok, tc.ok)
		}
	}
	order := []string{"v2.0.0", "1.10.0", "1.10.0-rc.2", "1.10.0-rc.1", "v1.9.9", "1.2", "1"}
	shuffled := slices.Clone(order)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, func(a, b string) int {
		va, _ := parseVersion(a)
		vb, _ := parseVersion(b)
		return vb.compare(va)
	})
	if !slices.Equal(shuffled, order) {
		t.Fatalf("version order %v, want %v", shuffled, order)
	}
}
