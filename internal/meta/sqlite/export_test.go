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
