package gcs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/gcs"
	"github.com/berth-registry/berth/internal/storage/gcs/gcstest"
	"github.com/berth-registry/berth/internal/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(gcstest.Main(m)) }

var ctx = context.Background()

const (
	KiB = 1 << 10
	MiB = 1 << 20
)

// newDriver returns a driver on a fresh bucket with 256 KiB chunks (the
// smallest GCS allows), so that a few MiB exercise many chunks.
func newDriver(t *testing.T, prefix string) *gcs.Driver {
	t.Helper()
	cfg := gcstest.Start(t)
	cfg.Prefix = prefix
	cfg.ChunkSize = 256 * KiB
	return open(t, cfg)
}

func open(t *testing.T, cfg gcs.Config) *gcs.Driver {
	t.Helper()
	d, err := gcs.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDriver(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newDriver(t, "") })
}

func TestDriverWithPrefix(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newDriver(t, "/root/dir/") })
}

func TestNew(t *testing.T) {
	good := gcstest.Start(t)
	notSA := filepath.Join(t.TempDir(), "user.json")
	os.WriteFile(notSA, []byte(`{"type":"authorized_user","client_id":"x"}`), 0o600)
	tests := []struct {
		name string
		edit func(*gcs.Config)
		want string
	}{
		{"no bucket", func(c *gcs.Config) { c.Bucket = "" }, "bucket is empty"},
		{"missing bucket", func(c *gcs.Config) { c.Bucket = "no-such-bucket" }, `bucket "no-such-bucket" is not reachable`},
		{"chunk not a multiple", func(c *gcs.Config) { c.ChunkSize = 1000 }, "chunk size"},
		{"huge chunk", func(c *gcs.Config) { c.ChunkSize = 2 << 30 }, "chunk size"},
		{"bad endpoint", func(c *gcs.Config) { c.Endpoint = "fake-gcs:4443" }, "endpoint"},
		{"anonymous without endpoint", func(c *gcs.Config) { c.Endpoint = "" }, "anonymous needs an endpoint"},
		{"missing key file", func(c *gcs.Config) { c.CredentialsFile = "/nonexistent/key.json" }, "credentials_file"},
		{"not a service account", func(c *gcs.Config) { c.CredentialsFile = notSA }, "not a service account key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			d, err := gcs.New(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				if d != nil {
					d.Close()
				}
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// An endpoint with the API path already is taken as it is.
	good.Endpoint += "/storage/v1/"
	open(t, good)
}

func TestRedirectURL(t *testing.T) {
	cfg := gcstest.Start(t)
	cfg.Prefix = "pre"
	cfg.CredentialsFile = gcstest.KeyFile(t)
	d := open(t, cfg)
	if !d.CanSign() {
		t.Fatal("a driver with a service-account key cannot sign")
	}
	data := pattern(300000)
	if err := d.PutContent(ctx, "blobs/x y+z", data); err != nil {
		t.Fatal(err)
	}
	u, err := d.RedirectURL(ctx, "blobs/x y+z", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, cfg.Endpoint+"/"+cfg.Bucket+"/pre/blobs/x%20y") || !strings.Contains(u, "X-Goog-Signature=") ||
		!strings.Contains(u, "X-Goog-Expires=") || !strings.Contains(u, "X-Goog-Algorithm=GOOG4-RSA-SHA256") {
		t.Fatalf("signed URL %s: want a V4 URL for the object on %s", u, cfg.Endpoint)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET signed URL: %s, %d bytes, %v", resp.Status, len(got), err)
	}
	if _, err := d.RedirectURL(ctx, "../x", time.Minute); !errors.Is(err, storage.ErrInvalidPath) {
		t.Errorf("bad path: %v", err)
	}
	if _, err := d.RedirectURL(ctx, "x", 8*24*time.Hour); err == nil {
		t.Error("an expiry beyond 7 days was accepted")
	}
	// Without a key (application default credentials) there is nothing to
	// sign with.
	nokey := newDriver(t, "")
	if _, err := nokey.RedirectURL(ctx, "x", time.Minute); nokey.CanSign() || err == nil || !strings.Contains(err.Error(), "no service-account key") {
		t.Fatalf("RedirectURL without a key = %v", err)
	}
}

func TestReaderSeeks(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(100000)
	if err := d.PutContent(ctx, "r", data); err != nil {
		t.Fatal(err)
	}
	rc, err := d.Reader(ctx, "r", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	s := rc.(io.ReadSeeker)
	if n, err := s.Seek(0, io.SeekEnd); n != 100000 || err != nil {
		t.Fatalf("Seek(0, End) = %d, %v", n, err)
	}
	if _, err := s.Seek(-1000, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(s)
	if err != nil || !bytes.Equal(got, data[99000:]) {
		t.Fatalf("after seek: %d bytes, %v", len(got), err)
	}
	s.Seek(5, io.SeekStart)
	buf := make([]byte, 10)
	if _, err := io.ReadFull(s, buf); err != nil || !bytes.Equal(buf, data[5:15]) {
		t.Fatalf("ReadFull after seek to 5: %v", err)
	}
	for _, off := range []int64{100000, 200000} {
		r, err := d.Reader(ctx, "r", off)
		if err != nil {
			t.Fatalf("Reader at %d: %v", off, err)
		}
		if b, err := io.ReadAll(r); len(b) != 0 || err != nil {
			t.Fatalf("Reader at %d: %d bytes, %v", off, len(b), err)
		}
		r.Close()
	}
	if _, err := d.Reader(ctx, "missing", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Reader of a missing object = %v", err)
	}
}

func TestMoveLarge(t *testing.T) {
	d := newDriver(t, "")
	data := pattern(5*MiB + 3)
	if err := d.PutContent(ctx, "uploads/big one", data); err != nil {
		t.Fatal(err)
	}
	if err := d.Move(ctx, "uploads/big one", "blobs/big+one"); err != nil {
		t.Fatal(err)
	}
	checkContent(t, d, "blobs/big+one", data)
	if _, err := d.Stat(ctx, "uploads/big one"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("source survived: %v", err)
	}
	if err := d.Move(ctx, "uploads/missing", "blobs/x"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Move of a missing file = %v", err)
	}
	if err := d.Move(ctx, "blobs/big+one", "blobs/big+one"); err != nil {
		t.Fatalf("Move onto itself = %v", err)
	}
	checkContent(t, d, "blobs/big+one", data)
}

func TestStatDirectoryAndWalkFile(t *testing.T) {
	d := newDriver(t, "")
	d.PutContent(ctx, "a/b/c", []byte("x"))
	if fi, err := d.Stat(ctx, "a/b"); err != nil || !fi.IsDir {
		t.Fatalf("Stat(dir) = %+v, %v", fi, err)
	}
	var got []string
	if err := d.Walk(ctx, "a/b/c", func(fi storage.FileInfo) error { got = append(got, fi.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "a/b/c" {
		t.Fatalf("Walk(file) = %v", got)
	}
	stop := errors.New("stop")
	if err := d.Walk(ctx, "a", func(storage.FileInfo) error { return stop }); err != stop {
		t.Fatalf("Walk did not return fn's error: %v", err)
	}
	if err := d.Walk(ctx, "nothing", func(storage.FileInfo) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Walk(missing) = %v", err)
	}
	if err := d.PutContent(ctx, "a/x.berth-part-1", nil); !errors.Is(err, storage.ErrInvalidPath) {
		t.Fatalf("PutContent of a reserved part name = %v", err)
	}
}

func checkContent(t *testing.T, d storage.Driver, p string, want []byte) {
	t.Helper()
	got, err := d.GetContent(ctx, p)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes (want %d), %v", p, len(got), len(want), err)
	}
}

// pattern returns n deterministic bytes that differ at every offset modulo 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

var errClosed = os.ErrClosed
