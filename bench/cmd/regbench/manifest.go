package main

// Workload 5: manifest GET and HEAD by tag at a fixed concurrency for a fixed
// time; also the request-rate loop used for the minimal net/http baseline.

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

type loadResult struct {
	rps, p50ms, p99ms float64
	n                 int
}

// loadTest sends method requests to url from conc workers for dur, checking
// each response with check. Each worker owns one keep-alive connection and
// writes its request as prepared bytes, reading the answer with the standard
// library's response parser: like wrk, it spends little CPU per request, so
// on a 2-core machine the server under test gets most of the CPU and the
// latencies measured are the server's, not the load generator's. (Through
// http.Client, the pool, its per-connection goroutines and channel handoffs
// cost about as much CPU per request as a minimal server does.)
func loadTest(rawURL, method, accept string, conc int, dur time.Duration, check func(*http.Response, []byte) error) (loadResult, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "http" {
		return loadResult{}, fmt.Errorf("load test URL %q: need http://host:port/path", rawURL)
	}
	req := []byte(fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nAccept: %s\r\nUser-Agent: regbench\r\n\r\n",
		method, u.RequestURI(), u.Host, accept))
	head := &http.Request{Method: method} // tells the parser whether a body follows
	var ec errCounter
	var wg sync.WaitGroup
	lats := make([][]int64, conc)
	conns := make([]*loadConn, conc)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// Dial and warm every connection up first so dialing is not timed.
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
			if err != nil {
				ec.add(err)
				return
			}
			conns[i] = &loadConn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}
			ec.add(conns[i].do(req, head, check))
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
			c := conns[i]
			for {
				t0 := time.Now()
				if t0.After(deadline) {
					return
				}
				err := c.do(req, head, check)
				lats[i] = append(lats[i], int64(time.Since(t0)))
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

// loadConn is one load-test connection with its read buffer and a body
// buffer reused across requests.
type loadConn struct {
	net.Conn
	br   *bufio.Reader
	body bytes.Buffer
}

// do sends one prepared request and reads and checks its response.
func (c *loadConn) do(req []byte, head *http.Request, check func(*http.Response, []byte) error) error {
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return err
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(c.br, head)
	if err != nil {
		return err
	}
	c.body.Reset()
	_, err = c.body.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.Close {
		return fmt.Errorf("%s: the server closed the keep-alive connection", head.Method)
	}
	return check(resp, c.body.Bytes())
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
