package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// berth gc and berth scrub against a local store: an orphaned blob file
// is listed by the dry run and deleted by the real one; scrub finds a
// healthy store healthy.
func TestGCAndScrubCommands(t *testing.T) {
	data := t.TempDir()
	env := []string{"BERTH_GC_GRACE_PERIOD=0s"}
	orphan := filepath.Join(data, "blobs", "blobs", "sha256", "2c", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
	os.MkdirAll(filepath.Dir(orphan), 0o755)
	os.WriteFile(orphan, []byte("hello"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"gc", "--data", data, "--dry-run"}, "would delete orphan file sha256:2cf24dba"},
		{[]string{"gc", "--data", data}, "deleted 0 manifests, 0 blob links, 0 blobs (0 bytes), 1 orphaned files (5 bytes)"},
		{[]string{"scrub", "--data", data}, "0 missing, 0 corrupt"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), tc.args, env, &out, &errb); err != nil || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: %v\n%s%s", tc.args, err, out.String(), errb.String())
		}
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan still there: %v", err)
	}
}
