//go:build !unix

package main

import "log/slog"

// raiseFileLimit has nothing to raise on this system.
func raiseFileLimit(*slog.Logger) {}
