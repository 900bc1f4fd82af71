package scaleout

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// A rolling restart under a steady pull load: each instance in turn is
// stopped gracefully (SIGTERM), restarted and given time to be seen healthy
// again by nginx, while clients keep pulling manifests and checking blobs
// through nginx. No pull may fail: requests in flight finish on the
// stopping instance, and nginx retries an idempotent request that meets a
// closed connection on the other instance.
func testRollingRestart(t *testing.T, c *cluster) {
	const repo, clients = "scaleout/rolling", 4
	layer := randomBytes(64<<10, 42)
	layerDigest := digest.FromBytes(layer)
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, b := range [][]byte{layer, cfg} {
		resp, body := c.send(t, "POST", c.url+withDigest("/v2/"+repo+"/blobs/uploads/", digest.FromBytes(b)), bytes.NewReader(b))
		expect(t, "push blob", resp, body, http.StatusCreated)
	}
	m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
		digest.FromBytes(cfg), len(cfg), layerDigest, len(layer))
	resp, body := c.send(t, "PUT", c.url+"/v2/"+repo+"/manifests/v1", strings.NewReader(m),
		"Content-Type", "application/vnd.oci.image.manifest.v1+json")
	expect(t, "push manifest", resp, body, http.StatusCreated)
	want := digest.FromString(m).String()

	var (
		stop            = make(chan struct{})
		wg              sync.WaitGroup
		pulls, failures atomic.Int64
		mu              sync.Mutex
		firstErrors     []string
	)
	fail := func(format string, args ...any) {
		failures.Add(1)
		mu.Lock()
		if len(firstErrors) < 5 {
			firstErrors = append(firstErrors, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	pull := func() {
		resp, err := c.client.Get(c.url + "/v2/" + repo + "/manifests/v1")
		if err != nil {
			fail("GET manifest: %v", err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Content-Digest") != want {
			fail("GET manifest: %s, digest %q", resp.Status, resp.Header.Get("Docker-Content-Digest"))
			return
		}
		req, _ := http.NewRequest(http.MethodHead, c.url+"/v2/"+repo+"/blobs/"+layerDigest.String(), nil)
		resp, err = c.client.Do(req)
		if err != nil {
			fail("HEAD blob: %v", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			fail("HEAD blob: %s", resp.Status)
			return
		}
		pulls.Add(1)
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					pull()
				}
			}
		}()
	}
	// nginx marks an instance it could not reach as down for fail_timeout
	// (5 s); an operator's rollout waits for the restarted instance to be
	// back in rotation before taking down the next.
	const backInRotation = 6 * time.Second
	time.Sleep(time.Second)
	for _, in := range c.inst {
		before := pulls.Load()
		in.stop(t)
		in.start(t)
		time.Sleep(backInRotation)
		if pulls.Load() == before {
			t.Errorf("no pull completed while %s restarted", in.name)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("rolling restart: %d pulls, %d failed", pulls.Load(), failures.Load())
	if failures.Load() > 0 {
		t.Errorf("%d pulls failed during the rolling restart; first: %s", failures.Load(), strings.Join(firstErrors, "; "))
	}
}
