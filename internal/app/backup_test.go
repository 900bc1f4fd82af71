package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/backup"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/gc/gctest"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

// TestBackupPruneAndVerify: pruning keeps the newest snapshots and the
// blobs they record, deletes the blobs only older ones recorded, and
// verification finds a corrupted blob.
func TestBackupPruneAndVerify(t *testing.T) {
	ctx := context.Background()
	srv := apptest.Start(t, func(c *config.Config) { c.GC.GracePeriod = 0 })
	c := &gctest.Client{Base: srv.URL, HTTP: srv.Client()}
	gone := gctest.NewImage("p/one", "v1", []byte("layer only one has"))
	kept := gctest.NewImage("p/two", "v1", []byte("layer two has"))
	for _, img := range []*gctest.Image{gone, kept} {
		if err := c.Push(img, ""); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	run := func(keep int) backup.Report {
		t.Helper()
		out, err := srv.App.Jobs().RunNow(ctx, backup.JobName, backup.CommandRequest(dir, keep))
		if err != nil {
			t.Fatal(err)
		}
		var r backup.Report
		json.Unmarshal([]byte(out), &r)
		return r
	}
	first := run(0)
	if first.Blobs != 4 || first.Copied != 4 {
		t.Fatalf("first backup: %+v, want 4 blobs copied", first)
	}
	if err := c.DeleteTag("p/one", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.App.Jobs().RunNow(ctx, gc.JobName, `{}`); err != nil {
		t.Fatal(err)
	}
	second := run(1)
	if second.Blobs != 2 || second.Copied != 0 || second.Skipped != 2 || second.PrunedSnaps != 1 || second.PrunedBlobs != 2 {
		t.Fatalf("second backup: %+v, want 2 blobs skipped, 1 snapshot and 2 blobs pruned", second)
	}
	dest, _ := filesystem.New(dir)
	if snaps, err := backup.List(ctx, dest); err != nil || len(snaps) != 1 || snaps[0].ID != second.Snapshot {
		t.Fatalf("snapshots after prune: %+v, %v", snaps, err)
	}
	for d := range gone.Blobs {
		if _, err := dest.Stat(ctx, storage.BlobPath(d)); err == nil {
			t.Fatalf("blob %s only the pruned snapshot had is still in the backup", d)
		}
	}
	rep, err := backup.Verify(ctx, dest, "", 1, backup.Options{})
	if err != nil || len(rep.Problems) != 0 || rep.Checked != 2 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// Corrupt a blob of the backup: verify says which.
	var layer string
	for d, b := range kept.Blobs {
		if string(b) == "layer two has" {
			layer = d.String()
			os.WriteFile(filepath.Join(dir, storage.BlobPath(d)), []byte("layer two HAS"), 0o600)
		}
	}
	rep, err = backup.Verify(ctx, dest, "", 1, backup.Options{})
	if err != nil || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], layer) {
		t.Fatalf("verify of a corrupted backup: %+v, %v", rep, err)
	}
}

// TestBackupAPI: with backup.destination configured, POST /api/v1/backup
// runs a backup and GET /api/v1/backup/snapshots lists it.
func TestBackupAPI(t *testing.T) {
	dir := t.TempDir()
	srv := apptest.Start(t, func(c *config.Config) {
		c.Backup.Destination = config.BackupDestination{Driver: "filesystem", Filesystem: config.Filesystem{Root: dir}}
		c.Jobs.Poll = 20 * time.Millisecond
	})
	c := &gctest.Client{Base: srv.URL, HTTP: srv.Client()}
	if err := c.Push(gctest.NewImage("api/app", "v1", []byte("l")), ""); err != nil {
		t.Fatal(err)
	}
	resp, body, err := c.Do("POST", "/api/v1/backup", nil, nil)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /api/v1/backup: %v %v %s", err, resp, body)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body, err := c.Do("GET", "/api/v1/backup", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Last *backup.Report `json:"last"`
		}
		json.Unmarshal(body, &st)
		if st.Last != nil && st.Last.Snapshot != "" {
			if st.Last.Blobs != 2 {
				t.Fatalf("backup report: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the backup did not run: %s", body)
		}
	}
	_, body, err = c.Do("GET", "/api/v1/backup/snapshots", nil, nil)
	var list struct{ Snapshots []backup.Snapshot }
	if err != nil || json.Unmarshal(body, &list) != nil || len(list.Snapshots) != 1 || list.Snapshots[0].Format != "sqlite" {
		t.Fatalf("GET /api/v1/backup/snapshots: %v %s", err, body)
	}
}
