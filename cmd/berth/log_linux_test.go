package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-registry/berth/internal/config"
)

// openPTY opens a pseudo-terminal and returns its two ends: what a program
// writes to the terminal end, a reader reads from the other.
func openPTY(t *testing.T) (terminal, reader *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slave.Close() })
	return slave, master
}

// TestLoggerAutoOnTerminal: log.format auto writes readable text to a
// terminal, with durations as strings.
func TestLoggerAutoOnTerminal(t *testing.T) {
	terminal, reader := openPTY(t)
	newLogger(config.Log{Level: "info", Format: "auto"}, terminal).Info("shutting down", "timeout", 30*time.Second)
	line, err := bufio.NewReader(reader).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, `msg="shutting down" timeout=30s`) || strings.HasPrefix(line, "{") {
		t.Fatalf("auto on a terminal: %q, want a text line", line)
	}
	// The same logger to a file: JSON.
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := logFormat("auto", f); got != "json" {
		t.Fatalf("auto on a file: %s", got)
	}
}
