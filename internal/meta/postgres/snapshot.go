package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// SnapshotFile is the name of the pg_dump archive in a snapshot directory.
const SnapshotFile = "meta.pgdump"

// Snapshot implements meta.Snapshotter with pg_dump: a read-only
// REPEATABLE READ transaction exports its snapshot, pg_dump dumps exactly
// that snapshot (--snapshot), and the blob list is read in the same
// transaction, so the dump and the list agree while writers go on. Upload
// sessions are left out; leases are cleared on restore.
func (s *Store) Snapshot(ctx context.Context, dir string, blob func(meta.SnapshotBlob) error) (meta.SnapshotInfo, error) {
	dump, err := findTool("pg_dump")
	if err != nil {
		return meta.SnapshotInfo{}, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("postgres: snapshot: %w", err)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("postgres: snapshot: %w", err)
	}
	defer tx.Rollback(ctx)
	var id string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&id); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("postgres: snapshot: %w", err)
	}
	// pg_dump must attach to the snapshot while this transaction is open.
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, dump, "--format=custom", "--no-owner", "--no-privileges",
		"--snapshot="+id, "--exclude-table-data=uploads", "--file="+filepath.Join(dir, SnapshotFile))
	cmd.Env = append(os.Environ(), clientEnv(&s.pool.Config().ConnConfig.Config)...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("postgres: snapshot: %w", err)
	}
	blobErr := snapshotBlobs(ctx, tx, blob)
	if err := cmd.Wait(); err != nil {
		return meta.SnapshotInfo{}, fmt.Errorf("postgres: snapshot: pg_dump: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if blobErr != nil {
		return meta.SnapshotInfo{}, blobErr
	}
	return meta.SnapshotInfo{File: SnapshotFile, Format: "pg_dump"}, tx.Commit(ctx)
}

func snapshotBlobs(ctx context.Context, tx pgx.Tx, blob func(meta.SnapshotBlob) error) error {
	rows, err := tx.Query(ctx, `SELECT digest, size FROM blobs WHERE NOT deleting ORDER BY digest`)
	if err != nil {
		return fmt.Errorf("postgres: snapshot blobs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		var b meta.SnapshotBlob
		if err := rows.Scan(&d, &b.Size); err != nil {
			return fmt.Errorf("postgres: snapshot blobs: %w", err)
		}
		b.Digest = digest.Digest(d)
		if err := blob(b); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RestoreSnapshot loads a snapshot's pg_dump archive into the database at
// dsn, which must hold no Berth tables yet, then clears the leases the
// archive recorded (they belonged to the instances of the old registry).
func RestoreSnapshot(ctx context.Context, dsn, archive string) error {
	restore, err := findTool("pg_restore")
	if err != nil {
		return err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	if exists {
		return fmt.Errorf("postgres: restore: database %q already holds Berth's tables; restore into an empty database", cfg.Database)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, restore, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
		"--dbname="+cfg.Database, archive)
	cmd.Env = append(os.Environ(), clientEnv(&cfg.Config)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("postgres: restore: pg_restore: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	if _, err := conn.Exec(ctx, `UPDATE jobs SET lease_owner = '', lease_until = 0`); err != nil {
		return fmt.Errorf("postgres: restore: clearing leases: %w", err)
	}
	if _, err := conn.Exec(ctx, `UPDATE jobs SET running = false, progress = '' WHERE name = 'backup'`); err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	return nil
}

// clientEnv passes the connection's parameters to libpq's tools through
// the environment (never on the command line, where other users could
// read the password).
func clientEnv(c *pgconn.Config) []string {
	env := []string{"PGHOST=" + c.Host, "PGPORT=" + strconv.Itoa(int(c.Port)), "PGDATABASE=" + c.Database, "PGUSER=" + c.User}
	if c.Password != "" {
		env = append(env, "PGPASSWORD="+c.Password)
	}
	if os.Getenv("PGSSLMODE") == "" {
		mode := "disable"
		if c.TLSConfig != nil {
			mode = "require"
		}
		env = append(env, "PGSSLMODE="+mode)
	}
	return env
}

// findTool finds a PostgreSQL client program: on PATH, else in Debian's
// versioned directories (newest first).
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.Reverse(dirs)
	for _, d := range dirs {
		if p := filepath.Join(d, name); isExec(p) {
			return p, nil
		}
	}
	return "", errors.New("postgres: " + name + " not found (Debian: apt-get install postgresql-client)")
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
