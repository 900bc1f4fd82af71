package main

// Registry HTTP API client: the few calls the workloads make, each checking
// status codes and the Docker-Content-Digest header.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	mtManifest = "application/vnd.oci.image.manifest.v1+json"
	mtConfig   = "application/vnd.oci.image.config.v1+json"
	mtLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

type client struct {
	base string // e.g. http://127.0.0.1:5000
	hc   *http.Client
	// zot v1.4.3 answers a cross-repository mount (201) without
	// Docker-Content-Digest and a PATCH with the Range before that chunk;
	// with zot set these two are accepted (the blob's digest is still
	// checked when the upload or the manifest that needs it completes).
	zot bool
}

func newTransport(conns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     64 << 10,
		ReadBufferSize:      64 << 10,
	}
}

func newClient(base string, conns int) *client {
	return &client{
		base: strings.TrimRight(base, "/"),
		hc:   &http.Client{Transport: newTransport(conns), Timeout: 10 * time.Minute},
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// statusError is an unexpected HTTP status; the smoke run fails on any.
type statusError struct {
	method, url string
	got         int
	want        []int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d, want %v: %s", e.method, e.url, e.got, e.want, e.body)
}

// check drains and closes the body, and returns an error unless the status
// is one of want.
func check(resp *http.Response, want ...int) error {
	defer resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	return &statusError{resp.Request.Method, resp.Request.URL.String(), resp.StatusCode, want, strings.TrimSpace(string(b))}
}

// checkDigest checks the registry's Docker-Content-Digest. A response that
// came from an object store after a redirect has none, and Distribution
// sends none on its redirects either: then the registry's redirect answer
// is checked if it has the header, and the content checks of the workload
// stand alone.
func checkDigest(resp *http.Response, want digest.Digest) error {
	got := resp.Header.Get("Docker-Content-Digest")
	if got == "" && resp.Request != nil && resp.Request.Response != nil {
		if got = resp.Request.Response.Header.Get("Docker-Content-Digest"); got == "" {
			return nil
		}
	}
	if got != want.String() {
		return fmt.Errorf("%s %s: Docker-Content-Digest %q, want %q", resp.Request.Method, resp.Request.URL, got, want)
	}
	return nil
}

func (c *client) req(method, path string, body io.Reader, size int64) (*http.Response, error) {
	u := path
	if !strings.HasPrefix(u, "http") {
		u = c.base + path
	}
	r, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		r.ContentLength = size
		r.Header.Set("Content-Type", "application/octet-stream")
		if size == 0 {
			r.Body = http.NoBody
		}
	}
	return c.hc.Do(r)
}

// location resolves a Location header against the request URL.
func location(resp *http.Response) (string, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return "", fmt.Errorf("%s %s: no Location header", resp.Request.Method, resp.Request.URL)
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func withDigest(loc string, d digest.Digest) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + url.QueryEscape(d.String())
}

// startUpload POSTs a new upload session and returns its location.
func (c *client) startUpload(repo string) (string, error) {
	resp, err := c.req("POST", "/v2/"+repo+"/blobs/uploads/", nil, 0)
	if err != nil {
		return "", err
	}
	loc, lerr := location(resp)
	if err := check(resp, 202); err != nil {
		return "", err
	}
	return loc, lerr
}

// finishUpload PUTs the (rest of the) body to an upload and checks the result.
func (c *client) finishUpload(loc string, d digest.Digest, body io.Reader, size int64) error {
	if body == nil {
		body = http.NoBody
	}
	resp, err := c.req("PUT", withDigest(loc, d), body, size)
	if err != nil {
		return err
	}
	if err := check(resp, 201); err != nil {
		return err
	}
	return checkDigest(resp, d)
}

// pushBig is a monolithic upload of big blob (seed, size): POST, then a PUT
// with the whole body written on a connection of its own straight from the
// generator (1 MiB writev calls), so the client costs little CPU.
func (c *client) pushBig(repo string, seed uint64, size int64) error {
	loc, err := c.startUpload(repo)
	if err != nil {
		return err
	}
	d := bigDigest(seed, size)
	u, err := url.Parse(withDigest(loc, d))
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	req, _ := http.NewRequest("PUT", u.String(), nil)
	_, err = fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: regbench\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), u.Host, size)
	if err == nil {
		_, err = newBlobReader(seed, size).WriteTo(conn)
	}
	// Read the answer even after a write error: the server may have
	// answered early and closed.
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), req)
	if rerr != nil {
		if err != nil {
			return fmt.Errorf("PUT %s: %v (response: %v)", u, err, rerr)
		}
		return fmt.Errorf("PUT %s: reading response: %v", u, rerr)
	}
	if cerr := check(resp, 201); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("PUT %s: %v", u, err)
	}
	return checkDigest(resp, d)
}

// pushBlob is a monolithic upload: POST, then PUT with the whole body.
func (c *client) pushBlob(repo string, d digest.Digest, body io.Reader, size int64) error {
	loc, err := c.startUpload(repo)
	if err != nil {
		return err
	}
	return c.finishUpload(loc, d, body, size)
}

// pushChunked uploads with PATCH requests of chunk bytes, then PUT ?digest=.
func (c *client) pushChunked(repo string, d digest.Digest, seed uint64, size, chunk int64) error {
	loc, err := c.startUpload(repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < size; off += chunk {
		end := min(off+chunk, size)
		r, err := http.NewRequest("PATCH", loc, newBlobRangeReader(seed, off, end))
		if err != nil {
			return err
		}
		r.ContentLength = end - off
		r.Header.Set("Content-Type", "application/octet-stream")
		r.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, end-1))
		resp, err := c.hc.Do(r)
		if err != nil {
			return err
		}
		newLoc, lerr := location(resp)
		if err := check(resp, 202); err != nil {
			return err
		}
		if lerr != nil {
			return lerr
		}
		if rg := resp.Header.Get("Range"); rg != fmt.Sprintf("0-%d", end-1) && !c.zot {
			return fmt.Errorf("PATCH %s: Range %q, want 0-%d", loc, rg, end-1)
		}
		loc = newLoc
	}
	return c.finishUpload(loc, d, nil, 0)
}

// headBlob returns the status of HEAD /v2/<repo>/blobs/<d>.
func (c *client) headBlob(repo string, d digest.Digest) (int, error) {
	resp, err := c.req("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil, 0)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		if err := checkDigest(resp, d); err != nil {
			return 0, err
		}
	}
	return resp.StatusCode, nil
}

// ensureBlob pushes a small blob unless the repository has it already.
func (c *client) ensureBlob(repo string, b []byte, d digest.Digest) error {
	st, err := c.headBlob(repo, d)
	if err != nil || st == 200 {
		return err
	}
	return c.pushBlob(repo, d, bytes.NewReader(b), int64(len(b)))
}

// mountBlob asks for a cross-repository mount. A server that answers 202
// (mount not done) gets the bytes in a PUT to the session it opened.
func (c *client) mountBlob(repo, from string, d digest.Digest, b []byte) error {
	q := "?mount=" + url.QueryEscape(d.String()) + "&from=" + url.QueryEscape(from)
	resp, err := c.req("POST", "/v2/"+repo+"/blobs/uploads/"+q, nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode == 202 {
		loc, err := location(resp)
		if cerr := check(resp, 202); cerr != nil {
			return cerr
		}
		if err != nil {
			return err
		}
		return c.finishUpload(loc, d, bytes.NewReader(b), int64(len(b)))
	}
	if err := check(resp, 201); err != nil {
		return err
	}
	if c.zot && resp.Header.Get("Docker-Content-Digest") == "" {
		return nil
	}
	return checkDigest(resp, d)
}

func (c *client) putManifest(repo, ref string, body []byte, d digest.Digest) error {
	r, err := http.NewRequest("PUT", c.base+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	if err != nil {
		return err
	}
	r.Header.Set("Content-Type", mtManifest)
	resp, err := c.hc.Do(r)
	if err != nil {
		return err
	}
	if err := check(resp, 201); err != nil {
		return err
	}
	return checkDigest(resp, d)
}

// headManifest returns the status of HEAD /v2/<repo>/manifests/<ref>.
func (c *client) headManifest(repo, ref string) (int, error) {
	r, err := http.NewRequest("HEAD", c.base+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		return 0, err
	}
	r.Header.Set("Accept", mtManifest)
	resp, err := c.hc.Do(r)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// image is a small OCI image: config, layers and the manifest that lists them.
type image struct {
	blobs    [][]byte // config first
	digests  []digest.Digest
	manifest []byte
	mdigest  digest.Digest
}

func makeImage(seed uint64, layers, layerSize int) *image {
	im := &image{}
	var diffIDs, descs []string
	for i := range layers {
		b, d := smallBlob(seed*16+uint64(i)+1, layerSize)
		im.blobs = append(im.blobs, b)
		im.digests = append(im.digests, d)
		diffIDs = append(diffIDs, strconv.Quote(d.String()))
		descs = append(descs, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mtLayer, d, len(b)))
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"bench.seed":"%d"}},"rootfs":{"type":"layers","diff_ids":[%s]}}`,
		seed, strings.Join(diffIDs, ",")))
	cd := digest.FromBytes(cfg)
	im.blobs = append([][]byte{cfg}, im.blobs...)
	im.digests = append([]digest.Digest{cd}, im.digests...)
	im.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[%s]}`,
		mtManifest, mtConfig, cd, len(cfg), strings.Join(descs, ",")))
	im.mdigest = digest.FromBytes(im.manifest)
	return im
}

// errCounter collects the first errors of concurrent workers.
type errCounter struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (e *errCounter) add(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	e.n++
	if len(e.first) < 3 {
		e.first = append(e.first, err.Error())
	}
	e.mu.Unlock()
}

func (e *errCounter) err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == 0 {
		return nil
	}
	return fmt.Errorf("%d errors; first: %s", e.n, strings.Join(e.first, " | "))
}
