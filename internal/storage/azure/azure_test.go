package azure_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/azure"
	"github.com/berth-registry/berth/internal/storage/azure/aztest"
	"github.com/berth-registry/berth/internal/storage/storagetest"
)

func TestMain(m *testing.M) { os.Exit(aztest.Main(m)) }

var ctx = context.Background()

const MiB = 1 << 20

// newDriver returns a driver on a fresh container with 1 MiB blocks, so
// that a few MiB exercise many blocks.
func newDriver(t *testing.T, prefix string) *azure.Driver {
	t.Helper()
	cfg := aztest.Start(t)
	cfg.Prefix = prefix
	cfg.BlockSize = 1 * MiB
	d, err := azure.New(ctx, cfg)
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
	good := aztest.Start(t)
	tests := []struct {
		name string
		edit func(*azure.Config)
		want string
	}{
		{"no container", func(c *azure.Config) { c.Container = "" }, "container is empty"},
		{"missing container", func(c *azure.Config) { c.Container = "no-such-container" }, `container "no-such-container" at http`},
		{"wrong key", func(c *azure.Config) { c.AccountKey = "d3Jvbmc=" }, "not reachable"},
		{"key not base64", func(c *azure.Config) { c.AccountKey = "not base64!" }, "account key"},
		{"key and SAS", func(c *azure.Config) { c.SASToken = "sv=x" }, "exclusive"},
		{"no account", func(c *azure.Config) { c.AccountName, c.Endpoint = "", "" }, "account name or endpoint"},
		{"key without account", func(c *azure.Config) { c.AccountName = "" }, "needs the account name"},
		{"small blocks", func(c *azure.Config) { c.BlockSize = 1000 }, "block size"},
		{"bad endpoint", func(c *azure.Config) { c.Endpoint = "azurite:10000" }, "endpoint"},
		{"bad public endpoint", func(c *azure.Config) { c.PublicEndpoint = "cdn?x=1" }, "endpoint"},
		{"bad SAS", func(c *azure.Config) { c.AccountKey, c.SASToken = "", "sv=2020-01-01&sig=bad" }, "not reachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			_, err := azure.New(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// sasDriver returns a driver on a fresh container that authenticates with
// a container SAS token instead of the account key.
func sasDriver(t *testing.T) *azure.Driver {
	t.Helper()
	cfg := aztest.Start(t)
	keyed, err := azure.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := azure.ContainerSAS(keyed, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccountKey, cfg.SASToken, cfg.BlockSize = "", tok, MiB
	d, err := azure.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A driver configured with a SAS token passes the suite (Move's copy source
// carries the token), but cannot sign redirects.
func TestSASToken(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Driver { return sasDriver(t) })
	d := sasDriver(t)
	if _, err := d.RedirectURL(ctx, "x", time.Minute); err == nil || !strings.Contains(err.Error(), "cannot sign") {
		t.Fatalf("RedirectURL with a SAS token = %v", err)
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
	get := func(u string) (int, []byte) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, got := get(u); code != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET SAS URL: %d, %d bytes", code, len(got))
	}
	// The URL is for reading that one blob only.
	if code, _ := get(strings.Replace(u, "x%20y", "other", 1)); code == http.StatusOK {
		t.Error("the SAS of one blob read another")
	}
	if req, _ := http.NewRequest(http.MethodDelete, u, nil); req != nil {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("DELETE with a read SAS: %s", resp.Status)
		}
	}
	// Through a public endpoint (a proxy in front of the store).
	cfg := aztest.Start(t)
	target, _ := url.Parse(cfg.Endpoint)
	target.Path = ""
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer proxy.Close()
	cfg.PublicEndpoint = proxy.URL + "/" + cfg.AccountName
	pd, err := azure.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pd.PutContent(ctx, "f", []byte("public"))
	pu, err := pd.RedirectURL(ctx, "f", time.Minute)
	if err != nil || !strings.HasPrefix(pu, cfg.PublicEndpoint+"/") {
		t.Fatalf("URL %s, %v; want it at %s", pu, err, cfg.PublicEndpoint)
	}
	if code, got := get(pu); code != http.StatusOK || string(got) != "public" {
		t.Fatalf("GET %s: %d %q", pu, code, got)
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
	if _, err := d.Reader(ctx, "missing", 0); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Reader of a missing blob = %v", err)
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
	if err := d.Delete(ctx, "nothing"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Delete(missing) = %v", err)
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
