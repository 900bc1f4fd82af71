package main

import (
	"io"
	"log/slog"

	"golang.org/x/term"

	"github.com/berth-registry/berth/internal/config"
)

// newLogger builds the process logger from the log settings. Durations
// are written as text ("30s", "1.5ms") in both formats: JSON would write
// nanoseconds.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: durationText}
	if logFormat(c.Format, w) == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// logFormat resolves log.format "auto": readable text when w is a
// terminal (make run, berth serve by hand), JSON otherwise (a service
// manager, a container, a file, a pipe to a log shipper).
func logFormat(format string, w io.Writer) string {
	if format != "auto" {
		return format
	}
	if f, ok := w.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(f.Fd())) {
		return "text"
	}
	return "json"
}

// durationText is a slog ReplaceAttr that writes time.Duration values as
// their String form.
func durationText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
