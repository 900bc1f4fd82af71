package main

// Workload 3: blob pulls, big and small.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// pullOne GETs a blob and streams it into w, checking status, length and
// Docker-Content-Digest. buf is the read buffer.
func (c *client) pullOne(repo string, d digest.Digest, size int64, w io.Writer, buf []byte) error {
	resp, err := c.req("GET", "/v2/"+repo+"/blobs/"+d.String(), nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return check(resp, 200)
	}
	defer resp.Body.Close()
	if err := checkDigest(resp, d); err != nil {
		return err
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.FormatInt(size, 10) {
		return fmt.Errorf("GET blob %s: Content-Length %s, want %d", d, cl, size)
	}
	n, err := io.CopyBuffer(w, onlyReader{resp.Body}, buf)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("GET blob %s: got %d bytes, want %d", d, n, size)
	}
	return nil
}

// onlyReader hides WriterTo/ReaderFrom so io.CopyBuffer uses our buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// pullBig pulls one big blob per seed, all at once. Each stream's bytes are
// checked against the generator (full compare if full, else the start of
// every 64 KiB block plus the length). Returns MiB/s over all.
func pullBig(c *client, repo string, seeds []uint64, size int64, full bool) (float64, error) {
	var ec errCounter
	var wg sync.WaitGroup
	bufs := make([][]byte, len(seeds))
	for i := range bufs {
		bufs[i] = make([]byte, 1<<20)
	}
	start := time.Now()
	for i, s := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chk := newBlobChecker(s, size, full)
			if err := c.pullOne(repo, bigDigest(s, size), size, chk, bufs[i]); err != nil {
				ec.add(err)
				return
			}
			ec.add(chk.err())
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := ec.err(); err != nil {
		return 0, err
	}
	return mibps(size*int64(len(seeds)), el), nil
}

// verifyPull pulls a blob (untimed) and checks the SHA-256 of its bytes.
func verifyPull(c *client, repo string, seed uint64, size int64) error {
	h := sha256.New()
	d := bigDigest(seed, size)
	if err := c.pullOne(repo, d, size, h, make([]byte, 1<<20)); err != nil {
		return err
	}
	if got := digest.NewDigest(digest.SHA256, h); got != d {
		return fmt.Errorf("pulled blob hashes to %s, want %s", got, d)
	}
	return nil
}

// pullSmall pulls every seed's blob passes times (in turn: all seeds, then
// all again) with the given number of streams,
// comparing all bytes. Returns MiB/s and blobs/s.
func pullSmall(c *client, repo string, seeds []uint64, size int64, streams, passes int) (float64, float64, error) {
	var ec errCounter
	var wg sync.WaitGroup
	var next atomic.Int64
	start := time.Now()
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(seeds)*passes) {
					return
				}
				i %= int64(len(seeds))
				chk := newBlobChecker(seeds[i], size, true)
				if err := c.pullOne(repo, bigDigest(seeds[i], size), size, chk, buf); err != nil {
					ec.add(err)
					return
				}
				if err := chk.err(); err != nil {
					ec.add(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := ec.err(); err != nil {
		return 0, 0, err
	}
	n := len(seeds) * passes
	return mibps(size*int64(n), el), float64(n) / el.Seconds(), nil
}

// ensureBigBlobs pushes (untimed) any of the blobs the repo lacks.
func ensureBigBlobs(c *client, repo string, seeds []uint64, size int64) error {
	precomputeDigests(size, seeds...)
	for _, s := range seeds {
		st, err := c.headBlob(repo, bigDigest(s, size))
		if err != nil {
			return err
		}
		if st == 200 {
			continue
		}
		if err := c.pushBig(repo, s, size); err != nil {
			return err
		}
	}
	return nil
}
