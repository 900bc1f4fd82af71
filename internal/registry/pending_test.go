package registry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// singleInstance returns a SingleInstance service (as with SQLite) and a
// function that makes a new one over the same stores: a restart.
func singleInstance(t *testing.T) (*Service, meta.Store, func() *Service) {
	t.Helper()
	st, blobs, _ := testStores(t)
	restart := func() *Service {
		return New(st, blobs, Options{SingleInstance: true, DeleteEnabled: true}, slog.New(slog.DiscardHandler))
	}
	return restart(), st, restart
}

// stored reports whether the metadata store has a row for session id.
func stored(t *testing.T, st meta.Store, id string) bool {
	t.Helper()
	known, err := st.KnownUploads(ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return known[id]
}

func TestPendingUploadMonolithicNeverStored(t *testing.T) {
	svc, st, _ := singleInstance(t)
	u, err := svc.StartUpload(ctx, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	if stored(t, st, u.ID) {
		t.Fatal("a session without bytes was written to the store")
	}
	if got, err := svc.UploadStatus(ctx, "team/app", u.ID); err != nil || got.Size != 0 {
		t.Fatalf("status: %+v, %v", got, err)
	}
	if _, err := svc.UploadStatus(ctx, "team/other", u.ID); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("status from another repository: %v, want ErrUploadUnknown", err)
	}
	body := []byte("hello blob")
	b, err := svc.FinishUpload(ctx, "team/app", u.ID, digest.FromBytes(body), -1, int64(len(body)), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := svc.StatBlob(ctx, "team/app", b.Digest); err != nil || got.Size != int64(len(body)) {
		t.Fatalf("blob after the PUT: %+v, %v", got, err)
	}
	if _, err := svc.UploadStatus(ctx, "team/app", u.ID); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("status after completion: %v, want ErrUploadUnknown", err)
	}
	if stored(t, st, u.ID) {
		t.Fatal("completed session left in the store")
	}
}

func TestPendingUploadChunkMovesToStore(t *testing.T) {
	svc, st, restart := singleInstance(t)
	u, err := svc.StartUpload(ctx, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.WriteUpload(ctx, "team/app", u.ID, 0, 3, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	if !stored(t, st, u.ID) {
		t.Fatal("a session with a saved chunk is not in the store")
	}
	// A restart forgets pending sessions, not stored ones: the upload
	// resumes where it was.
	svc = restart()
	got, err := svc.UploadStatus(ctx, "team/app", u.ID)
	if err != nil || got.Size != 3 {
		t.Fatalf("status after restart: %+v, %v", got, err)
	}
	if _, err := svc.FinishUpload(ctx, "team/app", u.ID, digest.FromString("abcdef"), 3, 3, bytes.NewReader([]byte("def"))); err != nil {
		t.Fatal(err)
	}
	if stored(t, st, u.ID) {
		t.Fatal("completed session left in the store")
	}

	// A pending session does not survive a restart: the client starts over.
	v, err := svc.StartUpload(ctx, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	svc = restart()
	if _, err := svc.WriteUpload(ctx, "team/app", v.ID, 0, 1, bytes.NewReader([]byte("x"))); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("pending session after restart: %v, want ErrUploadUnknown", err)
	}
}

func TestPendingUploadFailuresLeaveNothing(t *testing.T) {
	svc, st, _ := singleInstance(t)
	// A digest mismatch discards the session.
	u, err := svc.StartUpload(ctx, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.FinishUpload(ctx, "team/app", u.ID, digest.FromString("other"), -1, 3, bytes.NewReader([]byte("abc"))); !errors.Is(err, ErrDigestInvalid) {
		t.Fatalf("mismatch: %v", err)
	}
	if _, err := svc.UploadStatus(ctx, "team/app", u.ID); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("session after mismatch: %v", err)
	}
	// Cancelling a pending session.
	u, _ = svc.StartUpload(ctx, "team/app", "")
	if err := svc.CancelUpload(ctx, "team/app", u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.UploadStatus(ctx, "team/app", u.ID); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("session after cancel: %v", err)
	}
	// Deleting the repository drops its pending sessions (a repository with
	// nothing else is found by its sessions alone) but not others'.
	u, _ = svc.StartUpload(ctx, "team/new", "")
	other, _ := svc.StartUpload(ctx, "team/keep", "")
	if err := svc.DeleteRepository(ctx, "team/new"); err != nil {
		t.Fatalf("delete a repository with only a pending session: %v", err)
	}
	if _, err := svc.FinishUpload(ctx, "team/new", u.ID, digest.FromString("abc"), -1, 3, bytes.NewReader([]byte("abc"))); !errors.Is(err, ErrUploadUnknown) {
		t.Fatalf("PUT to a session of a deleted repository: %v, want ErrUploadUnknown", err)
	}
	if _, err := svc.UploadStatus(ctx, "team/keep", other.ID); err != nil {
		t.Fatalf("another repository's session: %v", err)
	}
	if err := svc.DeleteRepository(ctx, "team/new"); !errors.Is(err, ErrNameUnknown) {
		t.Fatalf("deleting it again: %v, want ErrNameUnknown", err)
	}
	if stored(t, st, u.ID) || stored(t, st, other.ID) {
		t.Fatal("pending sessions were written to the store")
	}
}

func TestPendingUploadsBounded(t *testing.T) {
	p := newPendingUploads(2, time.Hour)
	for _, id := range []string{"a", "b"} {
		if !p.add(Upload{ID: id, Repository: "r"}) {
			t.Fatalf("add %s refused below the limit", id)
		}
	}
	if p.add(Upload{ID: "c", Repository: "r"}) {
		t.Fatal("add beyond the limit accepted: it must go to the store")
	}
	// Sessions idle past the TTL are dropped, unless a request holds one.
	p.m["a"].u.CreatedAt = time.Now().Add(-2 * time.Hour)
	p.m["b"].u.CreatedAt = time.Now().Add(-2 * time.Hour)
	if _, ok := p.hold("r", "b"); !ok {
		t.Fatal("hold b")
	}
	if !p.add(Upload{ID: "c", Repository: "r"}) {
		t.Fatal("add after a stale session expired refused")
	}
	if _, ok := p.get("r", "a"); ok {
		t.Fatal("stale session a kept")
	}
	if _, ok := p.get("r", "b"); !ok {
		t.Fatal("held session b dropped as stale")
	}
	if _, ok := p.get("other", "c"); ok {
		t.Fatal("a session found under another repository")
	}
}

// failingCreate fails the next CreateUpload once armed.
type failingCreate struct {
	meta.Store
	fail atomic.Bool
}

func (f *failingCreate) CreateUpload(ctx context.Context, u meta.Upload) error {
	if f.fail.Swap(false) {
		return errors.New("disk full")
	}
	return f.Store.CreateUpload(ctx, u)
}

// A first chunk whose session cannot be stored leaves it pending at its
// start: the client sends the chunk again.
func TestPendingUploadStoreFailure(t *testing.T) {
	st, blobs, _ := testStores(t)
	fc := &failingCreate{Store: st}
	svc := New(fc, blobs, Options{SingleInstance: true}, slog.New(slog.DiscardHandler))
	u, err := svc.StartUpload(ctx, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	fc.fail.Store(true)
	if _, err := svc.WriteUpload(ctx, "team/app", u.ID, 0, 3, bytes.NewReader([]byte("abc"))); err == nil {
		t.Fatal("chunk accepted although its session could not be stored")
	}
	if got, err := svc.UploadStatus(ctx, "team/app", u.ID); err != nil || got.Size != 0 {
		t.Fatalf("session after the failed chunk: %+v, %v; want it pending at 0", got, err)
	}
	if _, err := svc.WriteUpload(ctx, "team/app", u.ID, 0, 3, bytes.NewReader([]byte("abc"))); err != nil {
		t.Fatalf("the chunk again: %v", err)
	}
	if _, err := svc.FinishUpload(ctx, "team/app", u.ID, digest.FromString("abcdef"), 3, 3, bytes.NewReader([]byte("def"))); err != nil {
		t.Fatal(err)
	}
}
