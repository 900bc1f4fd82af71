package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/buildinfo"
)

// TestVersionBuild: a release build's -X values are what `berth version`
// prints, with the Go version.
func TestVersionBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "berth")
	const pkg = "github.com/berth-registry/berth/internal/buildinfo"
	ldflags := "-X " + pkg + ".Version=v9.8.7-test -X " + pkg + ".Commit=0123456789abcdef0123456789abcdef01234567-dirty -X " +
		pkg + ".CommitTime=2026-12-07T01:02:03Z"
	if out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "berth v9.8.7-test (commit 0123456789ab-dirty, 2026-12-07T01:02:03Z, " + runtime.Version() + ")\n"
	if string(out) != want {
		t.Fatalf("berth version: %q, want %q", out, want)
	}
}

// TestBuildInfoReported: `berth version`, the start-up log line and
// /metrics name the same build; a duration in the log is a string.
func TestBuildInfoReported(t *testing.T) {
	bi := buildinfo.Get()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, nil, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want := "berth " + bi.String() + "\n"; out.String() != want || !strings.Contains(want, runtime.Version()) {
		t.Fatalf("berth version: %q, want %q", out.String(), want)
	}

	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := "http://" + addr
	done, logs := startServe(t, ctx, http.DefaultClient, base, "--addr", addr, "--data", t.TempDir())
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantMetric := `berth_build_info{commit="` + bi.ShortCommit() + `",goversion="` + runtime.Version() + `",version="` + bi.Version + `"} 1`
	if !strings.Contains(string(metrics), wantMetric) {
		t.Errorf("/metrics lacks %s", wantMetric)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	var listening, shutdown map[string]any
	for line := range strings.SplitSeq(logs.String(), "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(line), &v) != nil {
			continue // log.format auto, not a terminal: every line is JSON
		}
		switch v["msg"] {
		case "berth listening":
			listening = v
		case "shutting down; finishing requests in flight":
			shutdown = v
		}
	}
	if listening == nil || listening["version"] != bi.Version || listening["commit"] != bi.ShortCommit() || listening["go"] != runtime.Version() {
		t.Errorf("start-up line %v, want version %s, commit %s, go %s\n%s", listening, bi.Version, bi.ShortCommit(), runtime.Version(), logs)
	}
	if shutdown == nil || shutdown["timeout"] != "30s" {
		t.Errorf("shutdown line %v, want timeout 30s", shutdown)
	}
}
