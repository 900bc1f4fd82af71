package sqlite

import (
	"context"
	"database/sql"
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

// PreparedWrites counts the writer's prepared statements.
func PreparedWrites(s *Store) (n int) {
	s.writeStmts.Range(func(_, v any) bool {
		if st, _ := v.(*sql.Stmt); st != nil {
			n++
		}
		return true
	})
	return n
}
