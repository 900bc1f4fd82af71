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
	"path/filepath"
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
	d, err := writeScratch(dir, size, true)
	if err != nil {
		return 0, err
	}
	return mibps(size, d), nil
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
// And it is the minimal sendfile server, the ceiling of blob pulls: a blob
// pushed to a repository file/... is written to a file in dir (no hashing,
// no fsync), and GET /v2/file/.../blobs/<digest> serves that file with
// http.ServeContent, which hands the *os.File to the connection's
// ReadFrom: sendfile, as a registry serving blobs from a filesystem can.
func runMinHTTP(addr, dir string) error {
	body := []byte(strings.Repeat("x", minBodySize))
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case "POST":
			w.Header().Set("Location", "/upload"+strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2"), "/blobs/uploads/"))
			w.WriteHeader(202)
			return
		case "PUT":
			if dg := r.URL.Query().Get("digest"); dir != "" && strings.HasPrefix(r.URL.Path, "/upload/file/") {
				if err := storeFile(filepath.Join(dir, fileName(dg)), r.Body, r.ContentLength); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				w.Header().Set("Docker-Content-Digest", dg)
				w.WriteHeader(201)
				return
			}
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
		if _, fdg, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && dir != "" && strings.HasPrefix(r.URL.Path, "/v2/file/") {
			dg = fdg
			f, err := os.Open(filepath.Join(dir, fileName(dg)))
			if err != nil {
				http.NotFound(w, r)
				return
			}
			defer f.Close()
			w.Header().Set("Docker-Content-Digest", dg)
			http.ServeContent(w, r, "", time.Time{}, f)
			return
		}
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

// fileName is where the sendfile server keeps a blob: its digest without
// the algorithm (a plain file name whatever the client sent).
func fileName(dg string) string {
	_, hex, _ := strings.Cut(dg, ":")
	return "blob-" + strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'f' {
			return r
		}
		return '_'
	}, hex)
}

func storeFile(name string, body io.Reader, size int64) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, onlyReader{body}, make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("got %d bytes, Content-Length said %d", n, size)
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// sendfileCeiling pulls big blobs from the minimal sendfile server
// (runMinHTTP): 1 blob of size on one stream and 4 of size/4 on four, the
// same blobs as the suite's pull workloads; MiB/s. The blobs are pushed
// there first (untimed) and read once so they are in the page cache, as a
// registry's freshly pushed blobs are.
func sendfileCeiling(root string, size int64) (one, four float64, err error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	dir, err := os.MkdirTemp(root, "sendfile-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	s, err := startServer(serverSpec{label: "sendfile", kind: "minhttp", bin: self}, dir+"/data", dir+"/server.log")
	if err != nil {
		return 0, 0, err
	}
	defer s.stop()
	c := newClient(s.url, 4)
	defer c.close()
	r1, r4 := fmt.Sprintf("file/%d/%d", seedOne[0], size), fmt.Sprintf("file/4/%d", size/4)
	if err := ensureBigBlobs(c, r1, seedOne, size); err != nil {
		return 0, 0, err
	}
	if err := ensureBigBlobs(c, r4, seedFour, size/4); err != nil {
		return 0, 0, err
	}
	if err := verifyPull(c, r1, seedOne[0], size); err != nil {
		return 0, 0, err
	}
	if one, err = pullBig(c, r1, seedOne, size, false); err != nil {
		return 0, 0, err
	}
	four, err = pullBig(c, r4, seedFour, size/4, false)
	return one, four, err
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
