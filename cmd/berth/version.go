package main

import (
	"runtime/debug"
	"strings"
)

// Set at build time (deploy/image/build.sh does):
//
//	-ldflags "-X main.version=v1.2.0 -X main.commit=0123abcd -X main.date=2026-12-07T01:00:00Z"
//
// Without them, the module version and the VCS stamp Go embeds are used.
var version, commit, date string

// versionString is "VERSION (commit COMMIT, built DATE)", with the parts
// that are known.
func versionString() string {
	v, c, d := version, commit, date
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if c == "" {
					c = s.Value[:min(12, len(s.Value))]
				}
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && commit == "" && c != "" {
			c += "-dirty"
		}
	}
	if v == "" {
		v = "dev"
	}
	var extra []string
	if c != "" {
		extra = append(extra, "commit "+c)
	}
	if d != "" {
		extra = append(extra, "built "+d)
	}
	if len(extra) == 0 {
		return v
	}
	return v + " (" + strings.Join(extra, ", ") + ")"
}
