package buildinfo

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-07T01:00:00Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(vcs[:3:3], debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	tests := []struct {
		name    string
		version string // -X
		bi      *debug.BuildInfo
		want    Info
		line    string
	}{
		{"no build info", "", nil,
			Info{Version: "devel", GoVersion: runtime.Version()},
			"devel (commit unknown, " + runtime.Version() + ")"},
		{"go build in a clone", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-12-07T01:00:00Z", GoVersion: "go1.26.8"},
			"devel (commit 0123456789ab, 2026-12-07T01:00:00Z, go1.26.8)"},
		{"uncommitted changes", "", &debug.BuildInfo{GoVersion: "go1.26.8", Settings: dirty},
			Info{Version: "devel", Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-12-07T01:00:00Z", Modified: true, GoVersion: "go1.26.8"},
			"devel (commit 0123456789ab-dirty, 2026-12-07T01:00:00Z, go1.26.8)"},
		{"go install @version", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}},
			Info{Version: "v1.2.0", GoVersion: "go1.26.8"},
			"v1.2.0 (commit unknown, go1.26.8)"},
		{"release build: -X wins", "v1.3.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}, Settings: vcs},
			Info{Version: "v1.3.0", Commit: "0123456789abcdef0123456789abcdef01234567", CommitTime: "2026-12-07T01:00:00Z", GoVersion: "go1.26.8"},
			"v1.3.0 (commit 0123456789ab, 2026-12-07T01:00:00Z, go1.26.8)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo(tc.version, tc.bi)
			if got != tc.want {
				t.Fatalf("fromBuildInfo = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.line {
				t.Fatalf("String() = %q, want %q", got.String(), tc.line)
			}
		})
	}
}
