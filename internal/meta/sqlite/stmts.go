package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// Prepared statements. SQLite parses a statement's text on every Exec or
// Query that is not prepared, and parsing was the largest single cost of
// the write path (a sixth of the CPU of pushing small images). Reads use
// statements prepared on the reader pool; writes use statements prepared
// on the single writer connection and bound to each transaction.

// maxWriteStmts bounds the writer's statement cache; query texts beyond it
// (there are far fewer in the code) run unprepared.
const maxWriteStmts = 256

// readStmt returns the prepared statement for a read query, preparing it
// on first use (database/sql re-prepares it on each pooled connection once).
func (s *Store) readStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.readStmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.r.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.readStmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// readRow runs a read query that returns one row, as a prepared statement.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return s.r.QueryRowContext(ctx, query, args...) // reports the error
	}
	return st.QueryRowContext(ctx, args...)
}

// readRows runs a read query, as a prepared statement.
func (s *Store) readRows(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// wtx is a write transaction whose Exec and Query run the writer's
// prepared statement for their text. The embedded *sql.Tx is there for
// what is run once (migration scripts, statements prepared for a loop).
type wtx struct {
	*sql.Tx
	s *Store
}

// ExecContext runs query with args in the transaction.
func (t wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.s.writeStmt(query); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs query with args in the transaction.
func (t wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.s.writeStmt(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs query with args in the transaction.
func (t wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.s.writeStmt(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// writeStmt returns the writer's prepared statement for query, or nil
// while there is none yet. It is called inside a transaction, which holds
// the writer's only connection, so the first use of a text starts
// preparing it in the background (it runs once the connection is free)
// and runs unprepared this time; later transactions bind the statement
// to their connection (Tx.StmtContext, which re-prepares only if the
// connection was replaced).
func (s *Store) writeStmt(query string) *sql.Stmt {
	if v, ok := s.writeStmts.Load(query); ok {
		st, _ := v.(*sql.Stmt)
		return st
	}
	if s.writeStmtCount.Load() >= maxWriteStmts {
		return nil
	}
	if _, loaded := s.writeStmts.LoadOrStore(query, nil); loaded {
		return nil
	}
	s.writeStmtCount.Add(1)
	go func() {
		st, err := s.w.PrepareContext(context.Background(), query)
		if err != nil { // the store is closing, or the text is bad (its Exec reports why)
			s.writeStmts.Delete(query)
			s.writeStmtCount.Add(-1)
			return
		}
		s.writeStmts.Store(query, st)
	}()
	return nil
}

// tx runs fn in a write transaction.
func (s *Store) tx(ctx context.Context, fn func(wtx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return s.runTx(tx, fn)
}

// runTx runs fn in a begun transaction: commit if it succeeds, roll back if not.
func (s *Store) runTx(tx *sql.Tx, fn func(wtx) error) error {
	if err := fn(wtx{tx, s}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// lazyTx runs fn in a write transaction whose commit does not wait for the
// disk (synchronous=NORMAL in WAL mode): it is durable once any later
// synchronous commit is, or lost in a crash. For bookkeeping a crash may
// lose (upload sessions).
func (s *Store) lazyTx(ctx context.Context, fn func(wtx) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = FULL`); err != nil {
			// Never hand the pool a connection that commits lazily.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return s.runTx(tx, fn)
}
