package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

var ctx = context.Background()

// testStores opens a fresh SQLite metadata store and filesystem blob store
// in a test directory, which it returns too.
func testStores(t *testing.T) (*sqlite.Store, *storage.Blobs, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := filesystem.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return st, storage.NewBlobs(d), dir
}

// instances returns services sharing one metadata store and one blob
// store, as instances of a scale-out deployment share PostgreSQL and S3.
// wrap, if not nil, wraps the store the first instance sees.
func instances(t *testing.T, lease time.Duration, wrap func(meta.Store) meta.Store) (a, b *Service, store meta.Store) {
	t.Helper()
	st, blobs, _ := testStores(t)
	opts := Options{UploadLease: lease}
	log := slog.New(slog.DiscardHandler)
	storeA := meta.Store(st)
	if wrap != nil {
		storeA = wrap(st)
	}
	return New(storeA, blobs, opts, log), New(st, blobs, opts, log), st
}

// streaming starts a WriteUpload on svc whose body is a pipe the test
// feeds; the result arrives on the returned channel.
func streaming(svc *Service, repo, id string) (*io.PipeWriter, <-chan error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := svc.WriteUpload(ctx, repo, id, -1, -1, pr)
		pr.CloseWithError(err) // unblock the test's writes if it ended early
		done <- err
	}()
	return pw, done
}

// checkBusy checks that every writing operation of svc is refused.
func checkBusy(t *testing.T, svc *Service, repo, id string) {
	t.Helper()
	if _, err := svc.WriteUpload(ctx, repo, id, -1, -1, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrUploadBusy) {
		t.Errorf("WriteUpload while another instance writes = %v, want ErrUploadBusy", err)
	}
	if _, err := svc.FinishUpload(ctx, repo, id, digest.FromString("x"), -1, -1, nil); !errors.Is(err, ErrUploadBusy) {
		t.Errorf("FinishUpload while another instance writes = %v, want ErrUploadBusy", err)
	}
	if err := svc.CancelUpload(ctx, repo, id); !errors.Is(err, ErrUploadBusy) {
		t.Errorf("CancelUpload while another instance writes = %v, want ErrUploadBusy", err)
	}
}

// A chunk streaming into one instance keeps the session from the other,
// for longer than the lease (it is renewed); then the other continues.
func TestUploadLeaseAcrossInstances(t *testing.T) {
	const lease = 300 * time.Millisecond
	a, b, _ := instances(t, lease, nil)
	u, err := a.StartUpload(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	pw, done := streaming(a, "r", u.ID)
	pw.Write([]byte("first "))
	checkBusy(t, b, "r", u.ID)
	time.Sleep(3 * lease)
	checkBusy(t, b, "r", u.ID)
	if st, err := b.UploadStatus(ctx, "r", u.ID); err != nil || st.Size != 0 {
		t.Fatalf("status during the chunk = %+v, %v", st, err)
	}
	pw.Write([]byte("chunk"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Released at the end of the request: b finishes the upload.
	content := "first chunk, then the rest"
	if _, err := b.WriteUpload(ctx, "r", u.ID, 11, -1, bytes.NewReader([]byte(content[11:]))); err != nil {
		t.Fatalf("WriteUpload on the other instance after the first = %v", err)
	}
	blob, err := b.FinishUpload(ctx, "r", u.ID, digest.FromString(content), -1, -1, nil)
	if err != nil || blob.Size != int64(len(content)) {
		t.Fatalf("FinishUpload = %+v, %v", blob, err)
	}
}

// The lease of an instance that died expires: the session is writable
// again after the TTL.
func TestUploadLeaseOfDeadInstanceExpires(t *testing.T) {
	const lease = 200 * time.Millisecond
	_, b, store := instances(t, lease, nil)
	u, err := b.StartUpload(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.AcquireUpload(ctx, "r", u.ID, "dead instance", lease); err != nil {
		t.Fatal(err)
	}
	checkBusy(t, b, "r", u.ID)
	time.Sleep(lease + 50*time.Millisecond)
	if got, err := b.WriteUpload(ctx, "r", u.ID, 0, -1, bytes.NewReader([]byte("abc"))); err != nil || got.Size != 3 {
		t.Fatalf("WriteUpload after the lease expired = %+v, %v", got, err)
	}
	if _, err := b.WriteUpload(ctx, "r", "unknown", 0, -1, bytes.NewReader([]byte("abc"))); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("WriteUpload of an unknown session = %v", err)
	}
}

// failingRenewals is a store whose AcquireUpload fails while fail is set.
type failingRenewals struct {
	meta.Store
	fail atomic.Bool
}

func (f *failingRenewals) AcquireUpload(ctx context.Context, repo, id, owner string, ttl time.Duration) (meta.Upload, error) {
	if f.fail.Load() {
		return meta.Upload{}, errors.New("database unreachable")
	}
	return f.Store.AcquireUpload(ctx, repo, id, owner, ttl)
}

// An instance that could not renew its lease, and finds another holding it,
// stops writing and saves nothing over the new holder's state.
func TestUploadLeaseLost(t *testing.T) {
	const lease = 200 * time.Millisecond
	var flaky *failingRenewals
	a, _, store := instances(t, lease, func(s meta.Store) meta.Store {
		flaky = &failingRenewals{Store: s}
		return flaky
	})
	u, err := a.StartUpload(ctx, "r", "")
	if err != nil {
		t.Fatal(err)
	}
	pw, done := streaming(a, "r", u.ID)
	pw.Write([]byte("some bytes"))
	flaky.fail.Store(true)
	time.Sleep(lease + 50*time.Millisecond)
	if _, err := store.AcquireUpload(ctx, "r", u.ID, "other instance", time.Minute); err != nil {
		t.Fatalf("taking over the expired lease: %v", err)
	}
	flaky.fail.Store(false)
	time.Sleep(lease) // a's next renewal finds the lease taken
	go pw.Write([]byte("more bytes"))
	select {
	case err := <-done:
		if !errors.Is(err, ErrUploadBusy) {
			t.Fatalf("WriteUpload after losing its lease = %v, want ErrUploadBusy", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WriteUpload kept writing after losing its lease")
	}
	if st, err := store.Upload(ctx, "r", u.ID); err != nil || st.Size != 0 {
		t.Fatalf("session after the lost write = %+v, %v; want it untouched", st, err)
	}
}
