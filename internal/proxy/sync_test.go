package proxy

import (
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/config"
)

func TestSelectTags(t *testing.T) {
	tags := []string{"1.24.0", "1.25.0", "1.25.3", "1.26.1", "1.27.0", "1.27.0-rc1", "2.0.0", "latest", "dev", "v1.27.1", "alpine"}
	for _, tc := range []struct {
		name string
		rule config.SyncRule
		want []string
	}{
		{"all, versions first, highest first", config.SyncRule{},
			[]string{"2.0.0", "v1.27.1", "1.27.0", "1.27.0-rc1", "1.26.1", "1.25.3", "1.25.0", "1.24.0", "latest", "dev", "alpine"}},
		{"regex is anchored", config.SyncRule{Tags: `1\.2[56]\..*`}, []string{"1.26.1", "1.25.3", "1.25.0"}},
		{"regex, partial does not match", config.SyncRule{Tags: `lat`}, []string{}},
		{"semver range", config.SyncRule{Semver: ">=1.25, <2"}, []string{"v1.27.1", "1.27.0", "1.26.1", "1.25.3", "1.25.0"}},
		{"semver tilde", config.SyncRule{Semver: "~1.25"}, []string{"1.25.3", "1.25.0"}},
		{"latest N of a range", config.SyncRule{Semver: ">=1.25, <2", Latest: 2}, []string{"v1.27.1", "1.27.0"}},
		{"latest N of non-versions", config.SyncRule{Tags: `[a-z]+`, Latest: 2}, []string{"latest", "dev"}},
		{"all three", config.SyncRule{Tags: `1\..*`, Semver: "<1.27", Latest: 1}, []string{"1.26.1"}},
	} {
		got, err := SelectTags(tc.rule, tags)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := SelectTags(config.SyncRule{Tags: "("}, tags); err == nil {
		t.Error("a bad expression was accepted")
	}
	if _, err := SelectTags(config.SyncRule{Semver: "not a range"}, tags); err == nil {
		t.Error("a bad range was accepted")
	}
}

// FuzzSelectTags: any rule and tags select without panicking, a subset of
// the tags, at most Latest of them.
func FuzzSelectTags(f *testing.F) {
	f.Add(`1\..*`, ">=1.2, <2", 2, "1.2.3,latest,1.3.0,v2.0.0")
	f.Add("", "~1", 0, "1,1.0,1.0.0,01.2")
	f.Add(".*", "", 1, ",,")
	f.Fuzz(func(t *testing.T, re, rng string, latest int, list string) {
		tags := strings.Split(list, ",")
		got, err := SelectTags(config.SyncRule{Tags: re, Semver: rng, Latest: latest}, tags)
		if err != nil {
			return
		}
		if latest > 0 && len(got) > latest {
			t.Fatalf("%d tags selected, latest %d", len(got), latest)
		}
		for _, g := range got {
			if !slices.Contains(tags, g) {
				t.Fatalf("selected %q, not among the tags", g)
			}
		}
	})
}
