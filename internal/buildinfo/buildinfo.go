// Package buildinfo tells which build of Berth is running: the version set
// at release builds, and the commit, commit time and Go version that the Go
// toolchain embeds in every binary built from a git checkout. `berth
// version`, the start-up log line and the berth_build_info metric all read
// it here.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
)

// Version is the release version, set at build time:
//
//	go build -ldflags "-X github.com/berth-registry/berth/internal/buildinfo.Version=v1.2.0" ./cmd/berth
//
// `make build` sets it from `git describe --always --dirty`. Empty, the
// module version Go recorded is used (a `go install ...@v1.2.0` build), or
// "devel".
var Version = ""

// Commit and CommitTime may be set the same way. Go records them itself
// (vcs.revision, vcs.time) when it builds in a git clone, but not with
// -buildvcs=false nor in a git worktree (where .git is a file), so
// `make build` sets them from git too; set, they win.
var (
	Commit     = ""
	CommitTime = ""
)

// Info describes a build.
type Info struct {
	Version    string // release version, module version or "devel"
	Commit     string // full VCS revision; "" when Go recorded none
	CommitTime string // RFC 3339 time of that commit; "" when unknown
	Modified   bool   // built from a work tree with uncommitted changes
	GoVersion  string // the Go toolchain, e.g. go1.26.8
}

var (
	once sync.Once
	info Info
)

// Get returns the running binary's build information.
func Get() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		info = fromBuildInfo(Version, bi)
		if Commit != "" {
			info.Commit, info.Modified = strings.TrimSuffix(Commit, "-dirty"), strings.HasSuffix(Commit, "-dirty")
		}
		if CommitTime != "" {
			info.CommitTime = CommitTime
		}
	})
	return info
}

// fromBuildInfo derives an Info from the -X version and Go's embedded
// build information (nil when the binary carries none).
func fromBuildInfo(version string, bi *debug.BuildInfo) Info {
	i := Info{Version: version, GoVersion: runtime.Version()}
	if bi == nil {
		if i.Version == "" {
			i.Version = "devel"
		}
		return i
	}
	if bi.GoVersion != "" {
		i.GoVersion = bi.GoVersion
	}
	if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		i.Version = bi.Main.Version
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value
		case "vcs.time":
			i.CommitTime = s.Value
		case "vcs.modified":
			i.Modified = s.Value == "true"
		}
	}
	return i
}

// ShortCommit is the first 12 characters of the commit, with "-dirty" when
// the work tree had changes; "unknown" when Go recorded no commit.
func (i Info) ShortCommit() string {
	if i.Commit == "" {
		return "unknown"
	}
	c := i.Commit[:min(len(i.Commit), 12)]
	if i.Modified {
		c += "-dirty"
	}
	return c
}

// String is the one line `berth version` prints after "berth ":
//
//	v1.2.0 (commit 0123456789ab, 2026-12-07T01:00:00Z, go1.26.8)
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	b.WriteString(" (commit ")
	b.WriteString(i.ShortCommit())
	if i.CommitTime != "" {
		b.WriteString(", " + i.CommitTime)
	}
	b.WriteString(", " + i.GoVersion + ")")
	return b.String()
}
