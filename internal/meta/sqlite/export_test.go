package sqlite

import (
	"context"
	"testing"
)

// WriterSynchronous reads PRAGMA synchronous on the writer connection.
func WriterSynchronous(t *testing.T, s *Store) int {
	var v int
	if err := s.w.QueryRowContext(context.Background(), `PRAGMA synchronous`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Exec runs a statement on the writer, for tests that fill tables in bulk.
func Exec(t testing.TB, s *Store, query string, args ...any) {
	t.Helper()
	if _, err := s.w.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatal(err)
	}
}
