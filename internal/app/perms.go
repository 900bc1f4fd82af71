package app

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-registry/berth/internal/config"
)

// The data directory holds the metadata database (the token signing keys,
// password hashes) and the blobs (images, private ones too): only the
// user Berth runs as may read it. Berth creates what it makes there 0700
// (directories) and 0600 (files); what already exists with looser modes
// is left as it is, with a warning at start.

// makeDataDir creates the data directory (0700) when the database or the
// blobs are to live in it.
func makeDataDir(cfg *config.Config) error {
	if !usesDataDir(cfg) {
		return nil
	}
	return os.MkdirAll(cfg.Data, 0o700)
}

func usesDataDir(cfg *config.Config) bool {
	return cfg.Database.Driver == "sqlite" && within(cfg.Data, cfg.Database.SQLite.Path) ||
		cfg.Storage.Driver == "filesystem" && within(cfg.Data, cfg.Storage.Filesystem.Root)
}

// within reports whether path is dir or inside it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkModes warns about the data directory, the blob root, the SQLite
// database and its -wal and -shm files when other local users may read
// or write them.
func checkModes(cfg *config.Config, log *slog.Logger) {
	var paths []string
	if usesDataDir(cfg) {
		paths = append(paths, cfg.Data)
	}
	if cfg.Storage.Driver == "filesystem" {
		paths = append(paths, cfg.Storage.Filesystem.Root)
	}
	if cfg.Database.Driver == "sqlite" {
		db := cfg.Database.SQLite.Path
		paths = append(paths, db, db+"-wal", db+"-shm")
	}
	seen := map[string]bool{}
	for _, p := range paths {
		p = filepath.Clean(p)
		if seen[p] {
			continue
		}
		seen[p] = true
		if mode, loose := looseMode(p); loose {
			want := "0600"
			if mode.IsDir() {
				want = "0700"
			}
			log.Warn("other local users may read Berth's data (signing keys, password hashes, images): restrict it",
				"path", p, "mode", mode.Perm().String(), "want", want)
		}
	}
}

// looseMode reports p's mode and whether group or others have any access.
func looseMode(p string) (fs.FileMode, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, false
	}
	return fi.Mode(), fi.Mode().Perm()&0o077 != 0
}
