//go:build unix

package main

import (
	"log/slog"
	"syscall"
)

// raiseFileLimit raises the soft limit on open files to the hard limit:
// every client connection is a file, and at a soft limit of 1,024 a
// thousand slow clients made the health checks fail with "too many open
// files". (Go already does this at start since 1.19; doing it here makes
// it explicit and logged, so a low hard limit shows.)
func raiseFileLimit(log *slog.Logger) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		log.Warn("reading the open file limit", "error", err)
		return
	}
	soft := l.Cur
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			log.Warn("raising the open file limit", "soft", soft, "hard", l.Max, "error", err)
			return
		}
	}
	log.Info("open file limit", "soft", l.Cur, "hard", l.Max, "soft_at_start", soft)
	if l.Cur < 4096 {
		log.Warn("the open file limit is low: each connection takes one; raise the hard limit (LimitNOFILE= in systemd, ulimit -Hn, --ulimit nofile= in Docker)", "limit", l.Cur)
	}
}
