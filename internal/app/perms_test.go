package app_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app"
	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/syncbuf"
)

// Issue 13, finding 4: what Berth creates under its data directory is
// readable by its own user only, whatever the umask.
func TestDataFileModes(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data") // created by Berth
	s := apptest.Start(t, func(c *config.Config) {
		c.Data = data
		c.Database.SQLite.Path = filepath.Join(data, "berth.db")
		c.Storage.Filesystem.Root = filepath.Join(data, "blobs")
	})
	blob := []byte("layer")
	resp := do(t, "POST", s.URL+"/v2/team/app/blobs/uploads/?digest="+digest.FromBytes(blob).String(), strings.NewReader(string(blob)), nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("push blob: %d", resp.StatusCode)
	}
	n := 0
	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile (a temporary file)
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm()&^want != 0 {
			t.Errorf("%s: mode %v, want at most %v", p, fi.Mode().Perm(), want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"berth.db", "berth.db-wal", "berth.db-shm"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if n < 8 {
		t.Errorf("only %d entries checked", n)
	}
}

// Looser modes left from before are reported at start.
func TestDataLooseModesWarned(t *testing.T) {
	data := t.TempDir()
	cfg, err := config.Load("", nil, config.Overrides{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Database.SQLite.Path
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o644); err != nil { // whatever the umask
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs syncbuf.Buffer
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, p := range []string{data, db} {
		if !strings.Contains(logs.String(), "path="+p+" ") {
			t.Errorf("no warning about %s:\n%s", p, logs.String())
		}
	}
}
