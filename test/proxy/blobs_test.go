package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// bigImage is an OCI image with one layer of n random bytes.
func bigImage(t *testing.T, n int, seed uint64) (v1.Image, string) {
	t.Helper()
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	r.Read(b)
	layer := static.NewLayer(b, types.OCILayer)
	img, err := mutate.AppendLayers(mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := layer.Digest()
	return img, d.String()
}

// pullHTTP pulls an image the way a client does (manifest, then config
// and layers) and checks every digest; it returns the first error.
func pullHTTP(base, repo, ref string) error {
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/"+repo+"/manifests/"+ref, nil)
	req.Header.Set("Accept", manifestAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("manifest: %d %v %s", resp.StatusCode, err, body)
	}
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	for _, d := range append([]v1.Descriptor{m.Config}, m.Layers...) {
		if err := getBlob(base, repo, d.Digest.String(), d.Size); err != nil {
			return err
		}
	}
	return nil
}

func getBlob(base, repo, dgst string, size int64) error {
	resp, err := http.Get(base + "/v2/" + repo + "/blobs/" + dgst)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("blob %s: %d", dgst, resp.StatusCode)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fmt.Errorf("blob %s: after %d bytes: %w", dgst, n, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != dgst || n != size {
		return fmt.Errorf("blob %s: got %d bytes with digest %s", dgst, n, got)
	}
	return nil
}

// TestConcurrentPulls: ten concurrent pulls of a large image cause one
// upstream fetch of each blob and of the manifest.
func TestConcurrentPulls(t *testing.T) {
	mib := 256
	if s := os.Getenv("PROXY_LARGE_MIB"); s != "" {
		mib, _ = strconv.Atoi(s)
	}
	up := startBerthUpstream(t)
	img, layer := bigImage(t, mib<<20, 1)
	push(t, up, "big/image:latest", img)
	cfg, _ := img.ConfigName()
	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up}}, nil)
	up.resetCounts()

	const pulls = 10
	start := make(chan struct{})
	errs := make(chan error, pulls)
	var wg sync.WaitGroup
	for range pulls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- pullHTTP(srv.URL, "corp/big/image", "latest")
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d concurrent pulls of a %d MiB image: %v", pulls, mib, time.Since(t0).Round(time.Millisecond))
	for _, c := range []struct {
		what, suffix string
	}{
		{"layer", "/blobs/" + layer},
		{"config", "/blobs/" + cfg.String()},
		{"manifest", "/manifests/latest"},
	} {
		if n := up.count("GET", c.suffix); n != 1 {
			t.Errorf("%s: %d upstream GETs for %d concurrent pulls, want 1", c.what, n, pulls)
		}
	}
	// And now from the cache alone.
	up.resetCounts()
	if err := pullHTTP(srv.URL, "corp/big/image", "latest"); err != nil {
		t.Fatal(err)
	}
	if n := up.count("GET", "/blobs/"); n != 0 {
		t.Errorf("a pull after caching fetched %d blobs upstream", n)
	}
}

// TestBlobCutMidway: the upstream closes the connection in the middle of a
// blob; the client gets an error, nothing is cached (no blob, no upload
// left behind), and the next pull succeeds. A client that goes away
// mid-blob does not stop the download for the others.
func TestBlobCutMidway(t *testing.T) {
	up := startBerthUpstream(t)
	img, layer := bigImage(t, 8<<20, 2)
	push(t, up, "cut/image:1", img)
	srv := startProxy(t, []proxyUpstream{{name: "corp", up: up}}, nil)
	root := srv.Config.Storage.Filesystem.Root
	blobFile := filepath.Join(root, "blobs", "sha256", layer[7:9], layer[7:])

	up.cut("/blobs/"+layer, 3<<20)
	err := pullHTTP(srv.URL, "corp/cut/image", "1")
	if err == nil {
		t.Fatal("the pull succeeded though the upstream cut the blob")
	}
	t.Logf("client error: %v", err)
	waitFor(t, "the failed download to be cleaned up", func() bool {
		entries, _ := os.ReadDir(filepath.Join(root, "uploads"))
		return len(entries) == 0
	})
	if _, err := os.Stat(blobFile); !os.IsNotExist(err) {
		t.Fatalf("the cut blob was stored: %v", err)
	}
	if spool, _ := filepath.Glob(filepath.Join(srv.Config.Proxy.SpoolDir, "*")); len(spool) != 0 {
		t.Fatalf("spool files left: %v", spool)
	}
	if err := pullHTTP(srv.URL, "corp/cut/image", "1"); err != nil {
		t.Fatalf("the next pull: %v", err)
	}
	if n := up.count("GET", "/blobs/"+layer); n != 2 {
		t.Fatalf("%d upstream GETs of the layer, want 2 (cut, then whole)", n)
	}
	if _, err := os.Stat(blobFile); err != nil {
		t.Fatalf("the layer is not stored after a good pull: %v", err)
	}

	// A client leaving early: the download goes on and is cached.
	img2, layer2 := bigImage(t, 8<<20, 3)
	push(t, up, "cut/image:2", img2)
	resp, err := http.Get(srv.URL + "/v2/corp/cut/image/blobs/" + layer2)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, resp.Body, 1<<20)
	resp.Body.Close()
	waitFor(t, "the abandoned download to be stored", func() bool {
		_, err := os.Stat(filepath.Join(root, "blobs", "sha256", layer2[7:9], layer2[7:]))
		return err == nil
	})
	if err := getBlob(srv.URL, "corp/cut/image", layer2, 8<<20); err != nil {
		t.Fatal(err)
	}
	if n := up.count("GET", "/blobs/"+layer2); n != 1 {
		t.Fatalf("%d upstream GETs of a blob whose first client left, want 1", n)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
