package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// SnapshotFile is the name of the database copy in a snapshot directory.
const SnapshotFile = "meta.sqlite"

// Snapshot implements meta.Snapshotter with VACUUM INTO: SQLite copies the
// database as of one read transaction, while writers go on (WAL). The copy
// is then cleaned of what belongs to the running process (upload sessions,
// leases) and read for its blob list.
func (s *Store) Snapshot(ctx context.Context, dir string, blob func(meta.SnapshotBlob) error) (meta.SnapshotInfo, error) {
	path := filepath.Join(dir, SnapshotFile)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return meta.SnapshotInfo{}, fmt.Errorf("sqlite: snapshot: %w", err)
	}
	if _, err := s.r.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("sqlite: snapshot: %w", err)
	}
	db, err := openFile(path, false)
	if err != nil {
		return meta.SnapshotInfo{}, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DELETE FROM uploads;
		UPDATE jobs SET lease_owner = '', lease_until = 0;
		UPDATE jobs SET running = 0, progress = '' WHERE name = 'backup'`); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("sqlite: snapshot: cleaning the copy: %w", err)
	}
	if err := snapshotBlobs(ctx, db, blob); err != nil {
		return meta.SnapshotInfo{}, err
	}
	// The copy is complete and self-contained: no WAL left beside it.
	if _, err := db.ExecContext(ctx, `PRAGMA journal_mode = DELETE`); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("sqlite: snapshot: %w", err)
	}
	return meta.SnapshotInfo{File: SnapshotFile, Format: "sqlite"}, db.Close()
}

// openFile opens a database file outside a Store (a snapshot), read-only or not.
func openFile(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	if readOnly {
		q.Add("mode", "ro")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

func snapshotBlobs(ctx context.Context, db *sql.DB, blob func(meta.SnapshotBlob) error) error {
	rows, err := db.QueryContext(ctx, `SELECT digest, size FROM blobs WHERE deleting = 0 ORDER BY digest`)
	if err != nil {
		return fmt.Errorf("sqlite: snapshot blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b meta.SnapshotBlob
		var d string
		if err := rows.Scan(&d, &b.Size); err != nil {
			return fmt.Errorf("sqlite: snapshot blobs: %w", err)
		}
		b.Digest = digest.Digest(d)
		if err := blob(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RestoreSnapshot installs a snapshot's database file (from r) at path,
// which must not exist yet: written beside it, synced, then renamed.
func RestoreSnapshot(path string, r io.Reader) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("sqlite: restore: %s already exists; restore into an empty data directory", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	tmp := path + ".restoring"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	return nil
}

// CheckSnapshot checks the references inside a snapshot's database file:
// every blob a manifest or a repository names is a recorded blob, and
// every child an index lists is a manifest of its repository. It returns
// one line per problem (at most limit).
func CheckSnapshot(ctx context.Context, path string, limit int) ([]string, error) {
	db, err := openFile(path, true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	checks := []struct{ what, query string }{
		{"manifest names a missing blob", `SELECT r.name || '@' || m.digest || ' → ' || mb.digest FROM manifest_blobs mb
			JOIN manifests m ON m.id = mb.manifest_id JOIN repositories r ON r.id = m.repository_id
			WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = mb.digest AND b.deleting = 0)`},
		{"repository links a missing blob", `SELECT r.name || ' → ' || rb.digest FROM repository_blobs rb
			JOIN repositories r ON r.id = rb.repository_id
			WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = rb.digest AND b.deleting = 0)`},
		{"index lists a missing manifest", `SELECT r.name || '@' || m.digest || ' → ' || mc.child_digest FROM manifest_children mc
			JOIN manifests m ON m.id = mc.manifest_id JOIN repositories r ON r.id = m.repository_id
			WHERE NOT EXISTS (SELECT 1 FROM manifests c WHERE c.repository_id = m.repository_id AND c.digest = mc.child_digest)`},
	}
	var problems []string
	for _, c := range checks {
		rows, err := db.QueryContext(ctx, c.query)
		if err != nil {
			return nil, fmt.Errorf("sqlite: check snapshot: %w", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			if len(problems) < limit {
				problems = append(problems, c.what+": "+s)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return problems, nil
}
