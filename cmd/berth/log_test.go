package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/config"
)

// TestLogger: log.format json and text, and auto on something that is not
// a terminal (JSON); durations are strings such as "30s" in both formats.
func TestLogger(t *testing.T) {
	tests := []struct {
		format string
		want   string // a fragment of the line
	}{
		{"json", `"timeout":"30s"`},
		{"text", `timeout=30s`},
		{"auto", `"timeout":"30s"`},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			var b bytes.Buffer
			newLogger(config.Log{Level: "info", Format: tc.format}, &b).Info("shutting down", "timeout", 30*time.Second)
			line := b.String()
			if !strings.Contains(line, tc.want) {
				t.Fatalf("%s: %q lacks %q", tc.format, line, tc.want)
			}
			if strings.Contains(line, "30000000000") {
				t.Fatalf("%s: a duration in nanoseconds: %q", tc.format, line)
			}
			var v map[string]any
			isJSON := json.Unmarshal([]byte(line), &v) == nil
			if isJSON != (tc.format != "text") {
				t.Fatalf("%s: JSON %v: %q", tc.format, isJSON, line)
			}
		})
	}
}
