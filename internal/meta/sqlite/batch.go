package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
)

// Group commit of the push path's transactions.
//
// Every synchronous commit waits for an fsync of the WAL, and SQLite has
// one writer: concurrent pushes used to queue behind each other's fsyncs
// (a small image makes five such commits: four blobs and its manifest).
// batchTx runs a transaction in the next group instead: the transactions
// that arrive while a group commits are run together, in arrival order,
// each inside its own savepoint, and one COMMIT (one WAL fsync)
// acknowledges them all. Nothing is acknowledged before that commit has
// returned, so durability is unchanged; the fsync is only shared.
//
// A transaction that fails is rolled back to its savepoint and gets its
// own error; the others of its group still commit. If the group cannot go
// on (a savepoint cannot be rolled back or released: SQLite has already
// abandoned the transaction) or its COMMIT fails, every transaction of the
// group that had not failed on its own gets that error: none of them
// committed.
//
// Contexts: a caller whose context ends while its transaction is still
// queued gets the context's error and its transaction never runs. Once its
// group has started, the transaction runs with a context that is not
// cancelled (SQLite would answer a cancellation by rolling back the whole
// group), and the caller waits for the group's outcome, which is known
// within one commit.

// maxBatch bounds how many transactions one group carries.
const maxBatch = 64

// batcher queues the transactions of the next group.
type batcher struct {
	mu      sync.Mutex
	queue   []*batchOp
	running bool // a drain goroutine is running groups
	// commit commits a group's transaction ((*sql.Tx).Commit; tests
	// replace it to see a failed commit reach every waiter).
	commit func(*sql.Tx) error
	// groups counts the groups run (tests).
	groups int
}

type batchOp struct {
	ctx  context.Context
	fn   func(context.Context, wtx) error
	done chan error // buffered: the group never blocks on a waiter
	// taken: the op is in a group and will run (guarded by batcher.mu).
	taken bool
	// panicked holds what fn panicked with, re-raised in the caller's
	// goroutine (written before done is sent).
	panicked any
}

// batchTx runs fn in a write transaction committed together with the
// transactions of other callers that arrive meanwhile (see above). fn gets
// a context that is never cancelled and must use it for its statements.
func (s *Store) batchTx(ctx context.Context, fn func(context.Context, wtx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &batchOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	b := &s.batch
	b.mu.Lock()
	b.queue = append(b.queue, op)
	if !b.running {
		b.running = true
		go s.drainBatches()
	}
	b.mu.Unlock()
	select {
	case err := <-op.done:
		return op.result(err)
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !op.taken {
		b.queue = slices.DeleteFunc(b.queue, func(o *batchOp) bool { return o == op })
		b.mu.Unlock()
		return ctx.Err()
	}
	b.mu.Unlock()
	// Its group has started: it may commit, so wait for the outcome.
	return op.result(<-op.done)
}

// result is what batchTx returns for an op's error, re-raising a panic.
func (op *batchOp) result(err error) error {
	if op.panicked != nil {
		panic(op.panicked)
	}
	return err
}

// drainBatches runs groups until the queue is empty.
func (s *Store) drainBatches() {
	b := &s.batch
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxBatch)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		ops := b.queue[:n:n]
		b.queue = slices.Clone(b.queue[n:])
		for _, op := range ops {
			op.taken = true
		}
		b.groups++
		commit := b.commit
		b.mu.Unlock()
		if commit == nil {
			commit = (*sql.Tx).Commit
		}
		s.runBatch(ops, commit)
	}
}

// runBatch runs one group in one transaction and tells every op's caller
// the outcome.
func (s *Store) runBatch(ops []*batchOp, commit func(*sql.Tx) error) {
	errs := make([]error, len(ops))
	defer func() {
		for i, op := range ops {
			op.done <- errs[i]
		}
	}()
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		fillNil(errs, err)
		return
	}
	t := wtx{tx, s}
	single := len(ops) == 1
	ran := 0 // ops whose changes wait for the commit
	for i, op := range ops {
		if err := op.ctx.Err(); err != nil {
			errs[i] = err // cancelled before it ran: it never does
			continue
		}
		if single {
			if errs[i] = op.run(t); errs[i] != nil {
				tx.Rollback()
				return
			}
			ran++
			continue
		}
		if _, err := t.ExecContext(ctx, `SAVEPOINT batch_op`); err != nil {
			abortBatch(tx, errs, err)
			return
		}
		errs[i] = op.run(t)
		if errs[i] == nil {
			ran++
		} else if _, err := t.ExecContext(ctx, `ROLLBACK TO batch_op`); err != nil {
			abortBatch(tx, errs, err)
			return
		}
		if _, err := t.ExecContext(ctx, `RELEASE batch_op`); err != nil {
			abortBatch(tx, errs, err)
			return
		}
	}
	if ran == 0 {
		tx.Rollback()
		return
	}
	if err := commit(tx); err != nil {
		fillNil(errs, fmt.Errorf("sqlite: commit: %w", err))
	}
}

// run runs the op's transaction body, turning a panic into an error (the
// group goes on; the caller re-raises it).
func (op *batchOp) run(t wtx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			op.panicked = v
			err = fmt.Errorf("sqlite: batched transaction panicked: %v", v)
		}
	}()
	return op.fn(context.WithoutCancel(op.ctx), t)
}

// abortBatch rolls back a group that cannot go on: every op without an
// error of its own gets err, as none of them will commit.
func abortBatch(tx *sql.Tx, errs []error, err error) {
	tx.Rollback()
	fillNil(errs, fmt.Errorf("sqlite: group transaction rolled back: %w", err))
}

// fillNil sets err where errs has none.
func fillNil(errs []error, err error) {
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
}
