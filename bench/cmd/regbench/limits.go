package main

// The machine's own limits, measured in the same run: single-core SHA-256,
// loopback TCP throughput, writing a file where the servers keep their
// data, and a minimal net/http server's request rate.

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// sha256Rate hashes table data on one goroutine for about dur; MiB/s.
func sha256Rate(dur time.Duration) float64 {
	t := genTable()
	h := sha256.New()
	var n int64
	start := time.Now()
	for time.Since(start) < dur {
		for off := 0; off < len(t); off += 1 << 20 {
			h.Write(t[off : off+1<<20])
		}
		n += int64(len(t))
	}
	return mibps(n, time.Since(start))
}

// storageWriteRate writes size bytes of table data to a new file in dir
// (1 MiB writes, one fsync), as a push stores a blob, then removes it;
// MiB/s. On this VM it also shows how fast fresh memory is handed out
// when dir is a tmpfs.
func storageWriteRate(dir string, size int64) (float64, error) {
	f, err := os.CreateTemp(dir, "storage-write-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	t := genTable()
	start := time.Now()
	for n := int64(0); n < size; {
		b := t[:min(int64(1<<20), size-n)]
		if _, err := f.Write(b); err != nil {
			return 0, err
		}
		n += int64(len(b))
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return mibps(size, time.Since(start)), nil
}

// loopbackRate sends bytes from one goroutine to another over a 127.0.0.1
// TCP connection for about dur (256 KiB writes of one buffer, 256 KiB
// reads); MiB/s.
func loopbackRate(dur time.Duration) (float64, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	got := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- 0
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		n, _ := io.CopyBuffer(io.Discard, onlyReader{c}, buf)
		got <- n
	}()
	c, err := net.Dial("tcp", "127.0.0.1:"+fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
	if err != nil {
		return 0, err
	}
	b := genTable()[:256<<10]
	start := time.Now()
	for time.Since(start) < dur {
		for range 64 {
			if _, err := c.Write(b); err != nil {
				return 0, err
			}
		}
	}
	c.Close()
	n := <-got
	return mibps(n, time.Since(start)), nil
}

const minBodySize = 500

// runMinHTTP serves a fixed 500-byte body on every path (subcommand minhttp).
// It is also a null registry for measuring the load generator's own
// ceiling: POST opens an "upload", PUT drains the body and answers 201 with
// the digest it was given (no hashing, nothing stored), and GET
// /v2/null/<seed>/<size>/blobs/<digest> streams that generated blob.
func runMinHTTP(addr string) error {
	body := []byte(strings.Repeat("x", minBodySize))
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "POST":
			w.Header().Set("Location", "/upload")
			w.WriteHeader(202)
			return
		case "PUT":
			n, _ := io.CopyBuffer(io.Discard, onlyReader{r.Body}, make([]byte, 1<<20))
			if n != r.ContentLength {
				w.WriteHeader(400)
				return
			}
			w.Header().Set("Docker-Content-Digest", r.URL.Query().Get("digest"))
			w.WriteHeader(201)
			return
		}
		var seed uint64
		var size int64
		var dg string
		if _, err := fmt.Sscanf(r.URL.Path, "/v2/null/%d/%d/blobs/%s", &seed, &size, &dg); err == nil {
			w.Header().Set("Docker-Content-Digest", dg)
			w.Header().Set("Content-Length", fmt.Sprint(size))
			_, _ = newBlobReader(seed, size).WriteTo(w)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", fmt.Sprint(minBodySize))
		_, _ = w.Write(body)
	}))
}

// harnessCeiling pushes and pulls big blob (seed 1, size) to and from the
// null registry at url: the most this load generator can measure. MiB/s.
func harnessCeiling(url string, size int64) (push, pull float64, err error) {
	c := newClient(url, 1)
	defer c.close()
	repo := fmt.Sprintf("null/%d/%d", seedOne[0], size)
	if push, err = pushBig(c, repo, seedOne, size); err != nil {
		return 0, 0, err
	}
	pull, err = pullBig(c, repo, seedOne, size, false)
	return push, pull, err
}

// minHTTPRate starts this binary's minhttp server in its own process and
// loads it with GET at conc connections for dur; it also measures the
// harness ceiling for blobs of size bytes against it.
func minHTTPRate(tmp string, conc int, dur time.Duration, size int64, ceilings bool) (lr loadResult, push, pull float64, err error) {
	self, err := os.Executable()
	if err != nil {
		return lr, 0, 0, err
	}
	s, err := startServer(serverSpec{label: "minhttp", kind: "minhttp", bin: self}, tmp+"/minhttp", tmp+"/minhttp.log")
	if err != nil {
		return lr, 0, 0, err
	}
	defer s.stop()
	var ps, pl []float64
	reps := 0
	if ceilings {
		reps = 3
	}
	for range reps {
		a, b, err := harnessCeiling(s.url, size)
		if err != nil {
			return lr, 0, 0, err
		}
		ps, pl = append(ps, a), append(pl, b)
	}
	lr, err = loadTest(s.url+"/", "GET", "*/*", conc, dur, func(resp *http.Response, body []byte) error {
		if resp.StatusCode != 200 || len(body) != minBodySize {
			return fmt.Errorf("minhttp: status %d, %d bytes", resp.StatusCode, len(body))
		}
		return nil
	})
	return lr, median(ps), median(pl), err
}
