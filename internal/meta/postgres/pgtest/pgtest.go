// Package pgtest gives tests a real PostgreSQL: one throwaway server per
// test binary, started on first use, and a fresh database per test.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.Start(t) // postgres://postgres@127.0.0.1:PORT/DB?sslmode=disable
//		...
//	}
//
// The server comes from the Debian postgresql package (PostgreSQL 15 in
// /usr/lib/postgresql/15/bin; `make tools` installs it). initdb makes a
// cluster in a temporary directory (trust authentication, no fsync, an ICU
// en-US default collation so that code relying on byte order must say
// COLLATE "C"), and postgres listens on 127.0.0.1 on a free port with its
// socket in that directory. Run as root, both run as the postgres user: the
// directory is chowned to it and its parents must be world-traversable.
// Main stops the server (pg_ctl stop -m fast) and removes the directory
// once every test has run; should the test binary die first, the kernel
// sends the server SIGQUIT (its parent-death signal).
//
// Without the binaries Start skips the test, unless CI=true, where it fails.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	mu      sync.Mutex
	inMain  bool    // Main is running the tests, so the server will be stopped
	started bool    // the first Start tried to start the server
	current *server // the running server, if any
	failure error   // why it could not start
	seq     atomic.Int64
)

// Main runs the tests, stops the server if one was started, and exits. Call
// it from TestMain in every package that uses Start.
func Main(m *testing.M) { os.Exit(Run(m.Run)) }

// Run is Main for a test binary that combines several such helpers: it
// calls run (m.Run, or another helper's Main wrapping it), stops the server
// if one was started, and returns the exit code.
func Run(run func() int) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := run()
	mu.Lock()
	s := current
	current = nil
	mu.Unlock()
	if s != nil {
		if err := s.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// Start returns the DSN of a new, empty database owned by the superuser,
// dropped when t ends. The server is started on the first call.
func Start(t testing.TB) string {
	t.Helper()
	s, err := get()
	switch {
	case errors.Is(err, errNoBinaries) && os.Getenv("CI") != "true":
		t.Skipf("pgtest: %v", err)
	case err != nil:
		t.Fatalf("pgtest: %v", err)
	}
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		// FORCE ends sessions a test left open.
		if err := s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// get starts the server once per test binary.
func get() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if !inMain {
		return nil, errors.New("the server would never be stopped: call pgtest.Main(m) from TestMain")
	}
	if !started {
		started = true
		current, failure = startServer()
	}
	if current == nil && failure == nil {
		failure = errors.New("the server was already stopped")
	}
	return current, failure
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName names a test's database after the test, for whoever looks at the
// server while a test hangs; the sequence number keeps names unique.
func dbName(test string) string {
	name := fmt.Sprintf("t%d_%s", seq.Add(1), unsafeChars.ReplaceAllString(strings.ToLower(test), "_"))
	if len(name) > 63 { // NAMEDATALEN - 1
		name = name[:63]
	}
	return name
}

// admin runs one statement as the superuser in the postgres database.
func (s *server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}
