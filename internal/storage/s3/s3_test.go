package s3_test

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/s3"
	"github.com/berth-registry/berth/internal/storage/s3/s3test"
	"github.com/berth-registry/berth/internal/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

var ctx = context.Background()

const MiB = 1 << 20

// newDriver returns a driver on a fresh bucket with the smallest part size,
// so that a few MiB exercise multipart uploads.
func newDriver(t *testing.T, prefix string) *s3.Driver {
	t.Helper()
	cfg := s3test.Start(t)
	cfg.Prefix = prefix
	cfg.PartSize = 5 * MiB
	d, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDriver(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newDriver(t, "") })
}

func TestDriverWithPrefix(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return newDriver(t, "/root/dir/") })
}

func TestNew(t *testing.T) {
	good := s3test.Start(t)
	tests := []struct {
		name string
		edit func(*s3.Config)
		want string
	}{
		{"no bucket", func(c *s3.Config) { c.Bucket = "" }, "bucket is empty"},
		{"missing bucket", func(c *s3.Config) { c.Bucket = "no-such-bucket" }, `bucket "no-such-bucket" at http`},
		{"wrong secret", func(c *s3.Config) { c.SecretKey = "wrong" }, "not reachable"},
		{"half a key", func(c *s3.Config) { c.SecretKey = "" }, "together"},
		{"small parts", func(c *s3.Config) { c.PartSize = 1 * MiB }, "part size"},
		{"bad encryption", func(c *s3.Config) { c.ServerSideEncryption = "rot13" }, "server-side encryption"},
		{"kms key without kms", func(c *s3.Config) { c.KMSKeyID = "k" }, "aws:kms"},
		{"bad endpoint", func(c *s3.Config) { c.Endpoint = "minio:9000" }, "endpoint"},
		{"missing CA file", func(c *s3.Config) { c.CAFile = "/nonexistent/ca.pem" }, "CA file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := s3.New(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TLS endpoints: a private CA through CAFile, or no verification at all.
func TestTLSEndpoint(t *testing.T) {
	cfg := s3test.Start(t)
	target, err := url.Parse(cfg.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy keeps the Host header, so MinIO checks the signature the
	// client made for the proxy's address.
	srv := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes below
	cfg.Endpoint = srv.URL
	if _, err := s3.New(ctx, cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("New without the CA = %v, want a certificate error", err)
	}
	for _, edit := range []func(*s3.Config){
		func(c *s3.Config) { c.CAFile = ca },
		func(c *s3.Config) { c.Insecure = true },
	} {
		c := cfg
		edit(&c)
		d, err := s3.New(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.PutContent(ctx, "f", []byte("over TLS")); err != nil {
			t.Fatal(err)
		}
		if got, err := d.GetContent(ctx, "f"); string(got) != "over TLS" || err != nil {
			t.Fatalf("GetContent = %q, %v", got, err)
		}
	}
}

func TestRedirectURL(t *testing.T) {
	d := newDriver(t, "pre")
	data := pattern(300000)
	if err := d.PutContent(ctx, "blobs/x y+z", data); err != nil {
		t.Fatal(err)
	}
	u, err := d.RedirectURL(ctx, "blobs/x y+z", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || string(got) != string(data) {
		t.Fatalf("GET presigned URL: %s, %d bytes, %v", resp.Status, len(got), err)
	}
	// Through a public endpoint (a proxy that keeps the Host header).
	cfg := s3test.Start(t)
	target, _ := url.Parse(cfg.Endpoint)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	cfg.PublicEndpoint = proxy.URL
	pd, err := s3.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pd.PutContent(ctx, "f", []byte("public"))
	u, err = pd.RedirectURL(ctx, "f", time.Minute)
	if err != nil || !strings.HasPrefix(u, proxy.URL+"/") {
		t.Fatalf("URL %s, %v; want it at %s", u, err, proxy.URL)
	}
	if resp, err = http.Get(u); err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "public" {
		t.Fatalf("GET %s: %s %q", u, resp.Status, got)
	}

	if _, err := d.RedirectURL(ctx, "../x", time.Minute); !errors.Is(err, storage.ErrInvalidPath) {
		t.Errorf("bad path: %v", err)
	}
	if _, err := d.RedirectURL(ctx, "x", 8*24*time.Hour); err == nil {
		t.Error("an expiry beyond 7 days was accepted")
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
	if err != nil || string(got) != string(data[99000:]) {
		t.Fatalf("after seek: %d bytes, %v", len(got), err)
	}
	s.Seek(5, io.SeekStart)
	buf := make([]byte, 10)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != string(data[5:15]) {
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
}

func TestMoveMultipartCopy(t *testing.T) {
	d := newDriver(t, "")
	s3.SetCopyLimits(d, 6*MiB, 5*MiB)
	data := pattern(12*MiB + 3)
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
	if err := d.Walk(ctx, "nope", func(storage.FileInfo) error { return nil }); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Walk(missing) = %v", err)
	}
	if err := d.PutContent(ctx, "x.pending", nil); !errors.Is(err, storage.ErrInvalidPath) {
		t.Fatalf("reserved name accepted: %v", err)
	}
}

// checkContent compares a file with want, streaming it.
func checkContent(t *testing.T, d storage.Driver, p string, want []byte) {
	t.Helper()
	fi, err := d.Stat(ctx, p)
	if err != nil || fi.Size != int64(len(want)) {
		t.Fatalf("Stat(%s) = %+v, %v; want size %d", p, fi, err, len(want))
	}
	r, err := d.Reader(ctx, p, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 1*MiB)
	for off := 0; ; {
		n, err := r.Read(buf)
		if n > 0 && string(buf[:n]) != string(want[off:off+n]) {
			t.Fatalf("%s differs in [%d, %d)", p, off, off+n)
		}
		off += n
		if err == io.EOF {
			if off != len(want) {
				t.Fatalf("%s: read %d bytes, want %d", p, off, len(want))
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// pattern returns n bytes that differ at every offset of a part.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8 + i>>16)
	}
	return b
}
