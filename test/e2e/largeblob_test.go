package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/testproc"
)

// Scenario 8: a 512 MiB layer (random, so incompressible) is pushed with
// oras and pulled back with crane (streamed into a hash, never held in
// memory) and with oras pull, each checked against the digest computed
// while the file was written. E2E_LARGE_BLOB_MIB changes the size.
func TestLargeLayerRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("large blob: skipped with -short")
	}
	testproc.Need(t, "oras")
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	const repo = "big/layer"

	mib := int64(512)
	if s := os.Getenv("E2E_LARGE_BLOB_MIB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("E2E_LARGE_BLOB_MIB=%q", s)
		}
		mib = n
	}
	size := mib << 20
	start := time.Now()
	file := filepath.Join(c.dir, "big.bin")
	digest := writeRandomFile(t, file, size)
	t.Logf("wrote %d MiB in %v: %s", mib, time.Since(start).Round(time.Millisecond), digest)

	const layerType = "application/vnd.berth.e2e.large+octet-stream"
	start = time.Now()
	c.oras("push", "--artifact-type", "application/vnd.berth.e2e.large", c.ref(repo, "v1"), "big.bin:"+layerType)
	t.Logf("oras push: %v (%.0f MiB/s)", time.Since(start).Round(time.Millisecond), float64(mib)/time.Since(start).Seconds())
	if err := os.Remove(file); err != nil { // keep the disk footprint to one copy
		t.Fatal(err)
	}

	m, _ := reg.mustManifest(t, repo, "v1")
	if len(m.Layers) != 1 || m.Layers[0].Digest != digest || m.Layers[0].Size != size {
		t.Fatalf("manifest layers %+v, want one %s of %d bytes", m.Layers, digest, size)
	}
	head := reg.headBlob(t, repo, digest)
	if head.Status != http.StatusOK || head.Header.Get("Content-Length") != strconv.FormatInt(size, 10) {
		t.Errorf("HEAD blob: want 200 with Content-Length %d, got\n%s", size, head)
	}

	t.Run("crane-blob", func(t *testing.T) {
		c := c.forT(t)
		h := &countingHash{h: sha256.New()}
		start := time.Now()
		c.runWith(runOpts{stdout: h}, "crane", "blob", "--insecure", c.ref(repo, digest))
		t.Logf("crane blob: %v", time.Since(start).Round(time.Millisecond))
		if got := h.digest(); got != digest || h.n != size {
			t.Errorf("crane blob: %d bytes hashing to %s, want %d bytes %s", h.n, got, size, digest)
		}
	})

	t.Run("oras-pull", func(t *testing.T) {
		c := c.forT(t)
		out := filepath.Join(c.dir, "pulled")
		start := time.Now()
		c.oras("pull", "-o", out, c.ref(repo, "v1"))
		t.Logf("oras pull: %v", time.Since(start).Round(time.Millisecond))
		got, n := sha256File(t, filepath.Join(out, "big.bin"))
		if got != digest || n != size {
			t.Errorf("oras pull: %d bytes hashing to %s, want %d bytes %s", n, got, size, digest)
		}
		os.RemoveAll(out)
	})

	t.Run("range-read", func(t *testing.T) {
		// Clients resume interrupted pulls with Range requests; a server
		// may ignore Range (200, whole blob) but must not get it wrong.
		req, _ := http.NewRequest(http.MethodGet, reg.URL("/v2/"+repo+"/blobs/"+digest), nil)
		req.Header.Set("Range", "bytes=0-1023")
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusPartialContent:
			n, _ := io.Copy(io.Discard, resp.Body)
			if n != 1024 || resp.Header.Get("Content-Range") != "bytes 0-1023/"+strconv.FormatInt(size, 10) {
				t.Errorf("206 with %d bytes and Content-Range %q", n, resp.Header.Get("Content-Range"))
			}
		case http.StatusOK:
			t.Logf("server ignores Range on blobs (200)")
		default:
			t.Errorf("GET blob with Range: status %d", resp.StatusCode)
		}
	})
}

// countingHash is an io.Writer hashing and counting what it is given.
type countingHash struct {
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (c *countingHash) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.h.Write(p)
}

func (c *countingHash) digest() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }
