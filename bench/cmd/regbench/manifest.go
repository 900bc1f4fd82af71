package main

// Workload 5: manifest GET and HEAD by tag at a fixed concurrency for a fixed
// time; also the request-rate loop used for the minimal net/http baseline.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

type loadResult struct {
	rps, p50ms, p99ms float64
	n                 int
}

// loadTest sends method requests to url from conc workers (one keep-alive
// connection each) for dur, checking each response with check.
func loadTest(url, method, accept string, conc int, dur time.Duration, check func(*http.Response, []byte) error) (loadResult, error) {
	hc := &http.Client{Transport: newTransport(conc), Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	var ec errCounter
	var wg sync.WaitGroup
	lats := make([][]int64, conc)
	// Warm the connections up so dialing is not timed.
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(method, url, nil)
			r.Header.Set("Accept", accept)
			if resp, err := hc.Do(r); err != nil {
				ec.add(err)
			} else {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				ec.add(err)
				ec.add(check(resp, b))
			}
			lats[i] = make([]int64, 0, 1<<15)
		}()
	}
	wg.Wait()
	if err := ec.err(); err != nil {
		return loadResult{}, err
	}
	start := time.Now()
	deadline := start.Add(dur)
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := http.NewRequest(method, url, nil)
			r.Header.Set("Accept", accept)
			var body bytes.Buffer
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				resp, err := hc.Do(r)
				if err != nil {
					ec.add(err)
					return
				}
				body.Reset()
				_, err = body.ReadFrom(resp.Body)
				resp.Body.Close()
				lats[i] = append(lats[i], int64(time.Since(t0)))
				if err == nil {
					err = check(resp, body.Bytes())
				}
				if err != nil {
					ec.add(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := ec.err(); err != nil {
		return loadResult{}, err
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	if len(all) == 0 {
		return loadResult{}, fmt.Errorf("no requests completed")
	}
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / 1e6
	}
	return loadResult{rps: float64(len(all)) / el.Seconds(), p50ms: pct(0.50), p99ms: pct(0.99), n: len(all)}, nil
}

const manifestRepo, manifestTag = "bench/manifest", "latest"

// setupManifest pushes the image that workload 5 reads (untimed).
func setupManifest(c *client) (*image, error) {
	im := makeImage(900001, 1, 1024)
	for i, d := range im.digests {
		if err := c.ensureBlob(manifestRepo, im.blobs[i], d); err != nil {
			return nil, err
		}
	}
	return im, c.putManifest(manifestRepo, manifestTag, im.manifest, im.mdigest)
}

// manifestLoad runs GET or HEAD of the tag at concurrency conc.
func manifestLoad(base string, im *image, method string, conc int, dur time.Duration) (loadResult, error) {
	size := strconv.Itoa(len(im.manifest))
	want := im.manifest
	if method == "HEAD" {
		want = nil
	}
	return loadTest(base+"/v2/"+manifestRepo+"/manifests/"+manifestTag, method, mtManifest, conc, dur,
		func(resp *http.Response, body []byte) error {
			if resp.StatusCode != 200 {
				return fmt.Errorf("%s manifest: status %d", method, resp.StatusCode)
			}
			if err := checkDigest(resp, im.mdigest); err != nil {
				return err
			}
			if !bytes.Equal(body, want) || resp.Header.Get("Content-Length") != size {
				return fmt.Errorf("%s manifest: %d body bytes, Content-Length %s, want the %d bytes pushed and %s",
					method, len(body), resp.Header.Get("Content-Length"), len(want), size)
			}
			return nil
		})
}
