// Package postgres is the scale-out metadata store: PostgreSQL through pgx v5,
// which several Berth instances share.
//
// Connections come from a pgxpool pool. Queries are static strings with
// $n parameters, so pgx prepares each once per connection and reuses it
// (its default statement cache); every lookup is served by an index.
//
// The schema is the twin of the SQLite store's (migrations/, one file per
// version, embedded). Migrate applies the missing versions while holding a
// session advisory lock (pg_advisory_lock on a fixed key) on a dedicated
// connection, so instances starting together against one database apply
// each version exactly once; the others wait and then find nothing to do.
// Versions are recorded in schema_migrations.
//
// Every name and digest column is COLLATE "C": ORDER BY and "name > last"
// then compare bytes, as SQLite does and as the OCI pagination rules
// expect, whatever collation the database was created with (en_US or ICU
// collations would sort "V1" after "latest").
//
// Transactions run at READ COMMITTED. What SQLite gets from its single
// writer, this store gets from statements: repositories and manifests are
// created with INSERT ... ON CONFLICT DO NOTHING then read back, so two
// pushes creating the same row both succeed; the blobs and children a
// manifest push checks are locked FOR KEY SHARE until it commits, so a
// concurrent unlink or delete cannot slip between the check and the insert;
// tags are upserted in sorted order; and a transaction that still loses a
// deadlock or serialization race is retried.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/berth-registry/berth/internal/meta"
)

// Options tune the connection pool. Zero values keep the defaults.
type Options struct {
	// MaxConns caps the pool. Default: pool_max_conns from the DSN, else
	// pgxpool's max(4, number of CPUs).
	MaxConns int32
	// MinConns are kept open even when idle. Default: pool_min_conns from
	// the DSN, else none.
	MinConns int32
	// MaxConnLifetime recycles connections (for example after a failover).
	// Default: one hour.
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes connections idle that long. Default: 30 minutes.
	MaxConnIdleTime time.Duration
}

// Store is the PostgreSQL meta.Store.
type Store struct {
	pool      *pgxpool.Pool
	blobCheck meta.BlobCheck // see meta.GCStore.SetBlobCheck
}

var _ meta.Store = (*Store)(nil)

// Open connects to the database at dsn (a postgres:// URL or key=value
// string, as libpq reads it), applies migrations and returns the store.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := poolConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool}, nil
}

func poolConfig(dsn string, opts Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's parse errors redact the password.
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MinConns > 0 {
		cfg.MinConns = min(opts.MinConns, cfg.MaxConns)
	}
	if opts.MaxConnLifetime > 0 {
		cfg.MaxConnLifetime = opts.MaxConnLifetime
	}
	if opts.MaxConnIdleTime > 0 {
		cfg.MaxConnIdleTime = opts.MaxConnIdleTime
	}
	return cfg, nil
}

// Ping implements meta.Store.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Close implements meta.Store. It waits for borrowed connections to return.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// maxAttempts bounds retries of a transaction that lost a deadlock or
// serialization race; the rolled-back work is simply done again.
const maxAttempts = 4

// tx runs fn in a READ COMMITTED transaction, retrying it when PostgreSQL
// aborted it to break a deadlock or a serialization conflict.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if attempt < maxAttempts && retryable(err) && ctx.Err() == nil {
			continue
		}
		return err
	}
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") // serialization_failure, deadlock_detected
}

func now() int64 { return time.Now().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// notFound turns pgx.ErrNoRows into meta.ErrNotFound with what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %s", meta.ErrNotFound, what)
	}
	return err
}

// changedOne turns an Exec that changed no row into meta.ErrNotFound.
func changedOne(tag pgconn.CommandTag, err error, what string) error {
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s", meta.ErrNotFound, what)
	}
	return nil
}

// ensureRepo returns the id of repository name, creating it if needed.
// The SELECT comes first because an INSERT that hits ON CONFLICT still
// consumes an identity value; the second SELECT covers a repository that
// a concurrent transaction created (and committed) while the INSERT waited.
func ensureRepo(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `SELECT id FROM repositories WHERE name = $1`, name).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	err = tx.QueryRow(ctx, `INSERT INTO repositories (name, created_at) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING RETURNING id`, name, now()).Scan(&id)
	if !errors.Is(err, pgx.ErrNoRows) {
		return id, err
	}
	err = tx.QueryRow(ctx, `SELECT id FROM repositories WHERE name = $1`, name).Scan(&id)
	return id, err
}

// RepositoryExists implements meta.Store.
func (s *Store) RepositoryExists(ctx context.Context, repo string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM repositories WHERE name = $1)`, repo).Scan(&ok)
	return ok, err
}

// Repositories implements meta.Store.
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM repositories WHERE name > $1 ORDER BY name LIMIT $2`, last, limit(n))
}

// limit turns a page size into a LIMIT argument; a negative n means no
// limit, as it does in SQLite (LIMIT NULL in PostgreSQL).
func limit(n int) any {
	if n < 0 {
		return nil
	}
	return n
}

// strings runs a query that returns one text column.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]string{}, rows, pgx.RowTo[string])
}
