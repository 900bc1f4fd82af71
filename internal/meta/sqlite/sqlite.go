// Package sqlite is the embedded metadata store: a SQLite database in WAL
// mode through the pure-Go modernc.org/sqlite driver (no cgo). Writes go
// through one connection (SQLite has one writer) with immediate
// transactions; reads use a small pool that WAL lets run beside the writer.
// Commits are synced (synchronous=FULL) so a 201 is durable.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/berth-registry/berth/internal/meta"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite meta.Store.
type Store struct {
	w *sql.DB // the single writer
	r *sql.DB // readers
	// readStmts and writeStmts cache prepared statements by query text
	// (see stmts.go): parsing SQL is a fifth of the CPU of a busy
	// registry otherwise.
	readStmts  sync.Map // string -> *sql.Stmt
	writeStmts sync.Map // string -> *sql.Stmt, or nil while being prepared
	// writeStmtCount counts writeStmts' entries (bounded by maxWriteStmts).
	writeStmtCount atomic.Int64
	blobCheck      meta.BlobCheck // see meta.GCStore.SetBlobCheck
}

var _ meta.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and applies
// migrations. A new database is created readable by its owner only (0600,
// in a 0700 directory if that is new): it holds the token signing keys
// and password hashes. SQLite gives the -wal and -shm files the database
// file's mode.
func Open(ctx context.Context, path string) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: %w", err)
		}
	}
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	dsn := func(extra string) string {
		q := url.Values{}
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "temp_store(MEMORY)")
		if extra != "" {
			q.Add("_txlock", extra)
		}
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn("immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	s := &Store{w: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	s.r = r
	return s, nil
}

// migrate applies the embedded migrations not yet applied, in file-name
// order, all in one transaction: a database is migrated entirely or not
// at all, and a new one is created with a single commit.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Run once each: the statements go around the writer's statement cache.
	return s.tx(ctx, func(tx wtx) error {
		for _, name := range names {
			base := filepath.Base(name)
			version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("sqlite: migration %s: bad version", base)
			}
			var n int
			if err := tx.Tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", base, err)
			}
			if n > 0 {
				continue
			}
			body, err := migrations.ReadFile(name)
			if err != nil {
				return err
			}
			if _, err := tx.Tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", base, err)
			}
			if _, err := tx.Tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, now()); err != nil {
				return fmt.Errorf("sqlite: migration %s: %w", base, err)
			}
		}
		return nil
	})
}

// Ping implements meta.Store.
func (s *Store) Ping(ctx context.Context) error { return s.r.PingContext(ctx) }

// Close implements meta.Store.
func (s *Store) Close() error {
	for _, m := range []*sync.Map{&s.readStmts, &s.writeStmts} {
		m.Range(func(_, v any) bool {
			if st, ok := v.(*sql.Stmt); ok {
				st.Close()
			}
			return true
		})
	}
	return errors.Join(s.r.Close(), s.w.Close())
}

func now() int64 { return time.Now().UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// notFound turns sql.ErrNoRows into meta.ErrNotFound with what was missing.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", meta.ErrNotFound, what)
	}
	return err
}

// changedOne turns an Exec result that changed no row into meta.ErrNotFound.
func changedOne(res sql.Result, err error, what string) error {
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: %s", meta.ErrNotFound, what)
	}
	return nil
}

// ensureRepo returns the id of repository name, creating it if needed
// (the single writer makes the look-up and the insert atomic).
func ensureRepo(ctx context.Context, tx wtx, name string) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM repositories WHERE name = ?`, name).Scan(&id)
	if !errors.Is(err, sql.ErrNoRows) {
		return id, err
	}
	err = tx.QueryRowContext(ctx, `INSERT INTO repositories (name, created_at) VALUES (?, ?) RETURNING id`, name, now()).Scan(&id)
	return id, err
}

// RepositoryExists implements meta.Store.
func (s *Store) RepositoryExists(ctx context.Context, repo string) (bool, error) {
	var n int
	err := s.readRow(ctx, `SELECT COUNT(*) FROM repositories WHERE name = ?`, repo).Scan(&n)
	return n > 0, err
}

// Repositories implements meta.Store.
func (s *Store) Repositories(ctx context.Context, last string, n int) ([]string, error) {
	return s.strings(ctx, `SELECT name FROM repositories WHERE name > ? ORDER BY name LIMIT ?`, last, n)
}

// strings runs a query that returns one text column.
func (s *Store) strings(ctx context.Context, query string, args ...any) ([]string, error) {
	return scanStrings(s.readRows(ctx, query, args...))
}

// scanStrings reads the one text column of rows (as a query returned them,
// with its error), and closes them.
func scanStrings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
