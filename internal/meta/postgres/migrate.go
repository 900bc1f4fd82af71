package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_lock key that serializes migrations.
// Advisory locks are per database, so one fixed key is enough: it is
// "berth" in ASCII.
const migrationLock int64 = 0x6265727468

// Migrate applies the embedded migrations that the database at dsn lacks.
// It is safe to run from several processes at once. Open calls it too.
func Migrate(ctx context.Context, dsn string) error {
	cfg, err := poolConfig(dsn, Options{}) // accepts the pool_* parameters Open accepts
	if err != nil {
		return err
	}
	return migrate(ctx, cfg.ConnConfig)
}

// migrate holds the advisory lock on a connection of its own for the whole
// run, and applies each missing version in its own transaction, in
// file-name order. Closing the connection releases the lock even when a
// migration failed or ctx was cancelled.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	// CREATE TABLE IF NOT EXISTS is not safe against itself run
	// concurrently; under the lock it need not be.
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return fmt.Errorf("postgres: migrations table: %w", err)
	}
	applied := make(map[int]bool, len(versions))
	for _, v := range versions {
		applied[int(v)] = true
	}
	files, err := migrationFiles()
	if err != nil {
		return err
	}
	for _, f := range files {
		if applied[f.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: pgx sends it as one simple-protocol query, so a
			// file may hold several statements.
			if _, err := tx.Exec(ctx, f.body); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, f.version, now())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", f.name, err)
		}
	}
	return nil // closing the connection releases the lock
}

type migration struct {
	name    string
	version int
	body    string
}

// migrationFiles lists migrations/NNNN_name.sql in version order.
func migrationFiles() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]migration, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("postgres: migration %s: bad version", base)
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{name: base, version: version, body: string(body)})
	}
	return out, nil
}
