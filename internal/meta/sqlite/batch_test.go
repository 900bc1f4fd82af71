package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openBatchStore opens a store with a table of integers to commit into.
func openBatchStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.w.Exec(`CREATE TABLE batch_t (v INTEGER PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return s
}

func insert(v int) func(context.Context, wtx) error {
	return func(ctx context.Context, tx wtx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO batch_t (v) VALUES (?)`, v)
		return err
	}
}

// committed lists the values in batch_t, as a reader sees them.
func committed(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.r.Query(`SELECT v FROM batch_t ORDER BY v`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := []int{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// holdWriter starts a group whose only transaction (inserting 0) waits
// until release is called, so that what is submitted meanwhile queues up
// for the next group. release returns that transaction's outcome.
func holdWriter(t *testing.T, s *Store) (release func() error) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.batchTx(context.Background(), func(ctx context.Context, tx wtx) error {
			close(started)
			<-unblock
			return insert(0)(ctx, tx)
		})
	}()
	<-started
	return func() error { close(unblock); return <-errc }
}

// waitQueued waits until n transactions are queued for the next group.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s.batch.mu.Lock()
		got := len(s.batch.queue)
		s.batch.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions queued, want %d", got, n)
		}
	}
}

// submit queues fns in this order (each queued before the next is
// submitted) behind a held writer and returns their outcomes' channels.
func submit(t *testing.T, s *Store, fns ...func(context.Context, wtx) error) []chan error {
	t.Helper()
	s.batch.mu.Lock()
	queued := len(s.batch.queue)
	s.batch.mu.Unlock()
	out := make([]chan error, len(fns))
	for i, fn := range fns {
		out[i] = make(chan error, 1)
		go func() { out[i] <- s.batchTx(context.Background(), fn) }()
		waitQueued(t, s, queued+i+1)
	}
	return out
}

func groups(s *Store) int {
	s.batch.mu.Lock()
	defer s.batch.mu.Unlock()
	return s.batch.groups
}

// TestBatchTxGroupsQueuedCommits: what queues while a group commits is
// committed in one group after it, every caller told of its success.
func TestBatchTxGroupsQueuedCommits(t *testing.T) {
	s := openBatchStore(t)
	release := holdWriter(t, s)
	outs := submit(t, s, insert(1), insert(2), insert(3), insert(4), insert(5))
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for i, c := range outs {
		if err := <-c; err != nil {
			t.Errorf("transaction %d: %v", i+1, err)
		}
	}
	if got := committed(t, s); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Errorf("committed %v", got)
	}
	if g := groups(s); g != 2 {
		t.Errorf("%d groups, want 2 (the held one, then the five queued)", g)
	}
	var mode int
	if err := s.w.QueryRow(`PRAGMA synchronous`).Scan(&mode); err != nil || mode != 2 {
		t.Errorf("the writer commits with synchronous=%d (%v), want 2 (FULL)", mode, err)
	}
}

// TestBatchTxFailureStaysInItsSavepoint: a transaction that fails (its own
// error, or SQLite's) leaves nothing behind and the others of its group
// still commit.
func TestBatchTxFailureStaysInItsSavepoint(t *testing.T) {
	s := openBatchStore(t)
	boom := errors.New("boom")
	release := holdWriter(t, s)
	outs := submit(t, s,
		insert(1),
		func(ctx context.Context, tx wtx) error {
			if err := insert(2)(ctx, tx); err != nil {
				return err
			}
			return boom
		},
		insert(3),
		insert(1), // a duplicate key: SQLite's error
		insert(4),
	)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(outs))
	for i, c := range outs {
		errs[i] = <-c
	}
	if errs[0] != nil || errs[2] != nil || errs[4] != nil {
		t.Errorf("the good transactions failed: %v", errs)
	}
	if !errors.Is(errs[1], boom) {
		t.Errorf("failing transaction: %v, want boom", errs[1])
	}
	if errs[3] == nil {
		t.Error("duplicate key: no error")
	}
	if got := committed(t, s); !slices.Equal(got, []int{0, 1, 3, 4}) {
		t.Errorf("committed %v, want [0 1 3 4]", got)
	}
}

// TestBatchTxCommitErrorReachesEveryWaiter: when a group's commit fails,
// every caller of the group gets the error and nothing is kept; the
// writer works afterwards.
func TestBatchTxCommitErrorReachesEveryWaiter(t *testing.T) {
	s := openBatchStore(t)
	disk := errors.New("disk on fire")
	s.batch.mu.Lock()
	s.batch.commit = func(tx *sql.Tx) error { tx.Rollback(); return disk }
	s.batch.mu.Unlock()
	release := holdWriter(t, s)
	outs := submit(t, s, insert(1), insert(2), insert(3))
	if err := release(); !errors.Is(err, disk) {
		t.Errorf("held transaction: %v, want the commit's error", err)
	}
	for i, c := range outs {
		if err := <-c; !errors.Is(err, disk) {
			t.Errorf("transaction %d: %v, want the commit's error", i+1, err)
		}
	}
	if got := committed(t, s); len(got) != 0 {
		t.Errorf("committed %v after failed commits", got)
	}
	s.batch.mu.Lock()
	s.batch.commit = nil
	s.batch.mu.Unlock()
	if err := s.batchTx(context.Background(), insert(9)); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, s); !slices.Equal(got, []int{9}) {
		t.Errorf("committed %v, want [9]", got)
	}
}

// TestBatchTxAbortedGroup: when the group's transaction is lost under it
// (here one body ends it), no caller of the group is told it committed,
// including those whose bodies ran fine or had not run yet.
func TestBatchTxAbortedGroup(t *testing.T) {
	s := openBatchStore(t)
	release := holdWriter(t, s)
	outs := submit(t, s,
		insert(1),
		func(ctx context.Context, tx wtx) error {
			_, err := tx.ExecContext(ctx, `ROLLBACK`)
			return err
		},
		insert(3),
	)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for i, c := range outs {
		if err := <-c; err == nil {
			t.Errorf("transaction %d: no error in an aborted group", i+1)
		}
	}
	if got := committed(t, s); !slices.Equal(got, []int{0}) {
		t.Errorf("committed %v, want [0]", got)
	}
	if err := s.batchTx(context.Background(), insert(9)); err != nil {
		t.Fatalf("after an aborted group: %v", err)
	}
}

// TestBatchTxCancelWhileQueued: a caller whose context ends while its
// transaction is queued returns at once, and the transaction never runs.
func TestBatchTxCancelWhileQueued(t *testing.T) {
	s := openBatchStore(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- s.batchTx(ctx, func(ctx context.Context, tx wtx) error {
			ran <- struct{}{}
			return insert(7)(ctx, tx)
		})
	}()
	waitQueued(t, s, 1)
	cancel()
	select {
	case err := <-errc: // while the writer is still held
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled transaction: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled caller waited for the writer")
	}
	waitQueued(t, s, 0)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the cancelled transaction ran")
	default:
	}
	if got := committed(t, s); !slices.Equal(got, []int{0}) {
		t.Errorf("committed %v, want [0]", got)
	}
	if err := s.batchTx(ctx, insert(8)); !errors.Is(err, context.Canceled) {
		t.Errorf("submitted with a done context: %v", err)
	}
}

// TestBatchTxCancelAfterStart: once its group runs, a transaction is not
// cancelled with its caller's context (SQLite would roll back the whole
// group); the caller learns that it committed.
func TestBatchTxCancelAfterStart(t *testing.T) {
	s := openBatchStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	started, proceed := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.batchTx(ctx, func(ctx context.Context, tx wtx) error {
			close(started)
			<-proceed
			if ctx.Err() != nil {
				return fmt.Errorf("the body's context was cancelled: %w", ctx.Err())
			}
			return insert(5)(ctx, tx)
		})
	}()
	<-started
	cancel()
	close(proceed)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := committed(t, s); !slices.Equal(got, []int{5}) {
		t.Errorf("committed %v, want [5]", got)
	}
}

// TestBatchTxPanic: a body's panic is raised in its caller; the rest of
// the group commits.
func TestBatchTxPanic(t *testing.T) {
	s := openBatchStore(t)
	release := holdWriter(t, s)
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.batchTx(context.Background(), func(context.Context, wtx) error { panic("kaboom") })
	}()
	waitQueued(t, s, 1)
	outs := submit(t, s, insert(2))
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if v := <-recovered; v != "kaboom" {
		t.Errorf("recovered %v, want kaboom", v)
	}
	if err := <-outs[0]; err != nil {
		t.Fatal(err)
	}
	if got := committed(t, s); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("committed %v, want [0 2]", got)
	}
}

// TestBatchTxConcurrent: many writers at once, each commit acknowledged
// exactly when its row is there; groups carry several commits.
func TestBatchTxConcurrent(t *testing.T) {
	s := openBatchStore(t)
	const writers, each = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				v := 1 + w*each + i
				if err := s.batchTx(context.Background(), insert(v)); err != nil {
					errs <- err
					return
				}
				var n int
				if err := s.r.QueryRow(`SELECT COUNT(*) FROM batch_t WHERE v = ?`, v).Scan(&n); err != nil || n != 1 {
					errs <- fmt.Errorf("row %d after its commit: %d, %v", v, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := committed(t, s); len(got) != writers*each {
		t.Errorf("%d rows, want %d", len(got), writers*each)
	}
	t.Logf("%d commits in %d groups", writers*each, groups(s))
}

// TestBatchTxAcknowledgedSurviveSIGKILL: a child process commits from
// eight writers at once and prints each value once batchTx returned; it is
// killed with SIGKILL mid-stream, and every value it printed is in the
// database when it is opened again: no caller hears of a commit before the
// group's COMMIT (whose WAL fsync, synchronous=FULL, makes it survive a
// power loss too).
func TestBatchTxAcknowledgedSurviveSIGKILL(t *testing.T) {
	if dir := os.Getenv("BERTH_BATCH_CHILD"); dir != "" {
		batchChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBatchTxAcknowledgedSurviveSIGKILL$")
	cmd.Env = append(os.Environ(), "BERTH_BATCH_CHILD="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const want = 400
	var acked []int
	sc := bufio.NewScanner(out)
	for len(acked) < want && sc.Scan() {
		if v, err := strconv.Atoi(sc.Text()); err == nil {
			acked = append(acked, v)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	if len(acked) < want {
		t.Fatalf("the child acknowledged %d commits before it ended, want %d", len(acked), want)
	}
	s, err := Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, v := range acked {
		var n int
		if err := s.r.QueryRow(`SELECT COUNT(*) FROM batch_t WHERE v = ?`, v).Scan(&n); err != nil || n != 1 {
			t.Fatalf("acknowledged value %d: %d rows after SIGKILL (%v)", v, n, err)
		}
	}
}

// batchChild is the process TestBatchTxAcknowledgedSurviveSIGKILL kills.
func batchChild(dir string) {
	s, err := Open(context.Background(), filepath.Join(dir, "berth.db"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := s.w.Exec(`CREATE TABLE batch_t (v INTEGER PRIMARY KEY)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	var next atomic.Int64
	for range 8 {
		go func() {
			for {
				v := int(next.Add(1))
				if err := s.batchTx(context.Background(), insert(v)); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println(v)
				mu.Unlock()
			}
		}()
	}
	select {}
}
