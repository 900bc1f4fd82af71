// Command proxybench measures Berth's pull-through cache: the first-byte
// latency and throughput of a blob pulled through Berth from an upstream
// (CNCF Distribution 2.8) that has never been pulled before, against the
// same pull from the upstream directly, and against a second (cached) pull
// through Berth. It starts both servers on 127.0.0.1 and prints a markdown
// table of medians.
//
//	go build -o /tmp/berth ./cmd/berth && go build -o /tmp/proxybench ./bench/cmd/proxybench
//	/tmp/proxybench -berth /tmp/berth [-size 268435456] [-runs 5]
//
// Streaming (not store-then-serve) shows as a cold first-byte latency close
// to the upstream's own, independent of the blob size.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
)

func main() {
	berth := flag.String("berth", "", "berth binary (required)")
	dist := flag.String("dist", "/usr/bin/docker-registry", "CNCF Distribution 2.8 binary (the upstream)")
	size := flag.Int64("size", 256<<20, "blob size in bytes")
	runs := flag.Int("runs", 5, "blobs measured (each a fresh one, never pulled)")
	dataRoot := flag.String("data-root", "", "where the servers' data dirs go (default /dev/shm if it has room, else $TMPDIR)")
	flag.Parse()
	if err := run(*berth, *dist, *size, *runs, *dataRoot); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench:", err)
		os.Exit(1)
	}
}

func run(berthBin, distBin string, size int64, runs int, dataRoot string) error {
	if berthBin == "" {
		return errors.New("-berth is required")
	}
	if dataRoot == "" {
		dataRoot = defaultDataRoot(3*size*int64(runs) + 1<<30)
	}
	dir, err := os.MkdirTemp(dataRoot, "proxybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	upAddr, err := freeport.Addr()
	if err != nil {
		return err
	}
	distCfg := filepath.Join(dir, "dist.yml")
	if err := os.WriteFile(distCfg, fmt.Appendf(nil, `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: proxybench
`, filepath.Join(dir, "dist"), upAddr), 0o644); err != nil {
		return err
	}
	up, err := start(filepath.Join(dir, "dist.log"), upAddr, distBin, "serve", distCfg)
	if err != nil {
		return fmt.Errorf("upstream: %w", err)
	}
	defer up.stop()

	proxyAddr, err := freeport.Addr()
	if err != nil {
		return err
	}
	berthCfg := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(berthCfg, fmt.Appendf(nil, `version: 1
log:
  level: warn
  access: false
proxy:
  upstreams:
    - name: up
      url: http://%s
`, upAddr), 0o644); err != nil {
		return err
	}
	px, err := start(filepath.Join(dir, "berth.log"), proxyAddr, berthBin, "serve", "--config", berthCfg,
		"--addr", proxyAddr, "--data", filepath.Join(dir, "berth"))
	if err != nil {
		return fmt.Errorf("berth: %w", err)
	}
	defer px.stop()

	var direct, cold, warm []sample
	for i := range runs {
		blob := make([]byte, size)
		rand.NewChaCha8([32]byte{byte(i), 0x5e, 0xed}).Read(blob)
		sum := sha256.Sum256(blob)
		dgst := "sha256:" + hex.EncodeToString(sum[:])
		repo := fmt.Sprintf("bench/blob%d", i)
		if err := pushBlob("http://"+upAddr, repo, dgst, blob); err != nil {
			return fmt.Errorf("push to the upstream: %w", err)
		}
		blob = nil
		// Alternate which goes first, so neither always gets a warmer
		// page cache.
		measure := func(into *[]sample, url string) error {
			s, err := pull(url, dgst, size)
			*into = append(*into, s)
			return err
		}
		first, second := func() error { return measure(&direct, "http://"+upAddr+"/v2/"+repo+"/blobs/"+dgst) },
			func() error { return measure(&cold, "http://"+proxyAddr+"/v2/up/"+repo+"/blobs/"+dgst) }
		if i%2 == 1 {
			first, second = second, first
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		if err := measure(&warm, "http://"+proxyAddr+"/v2/up/"+repo+"/blobs/"+dgst); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "run %d: upstream %v, proxy cold %v, proxy warm %v\n", i+1, direct[i], cold[i], warm[i])
	}
	mib := float64(size) / (1 << 20)
	fmt.Printf("Blob of %.0f MiB, %d runs (fresh blob each), medians:\n\n", mib, runs)
	fmt.Println("| pull | first byte | whole blob | throughput |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, row := range []struct {
		name string
		s    []sample
	}{{"upstream (Distribution) directly", direct}, {"through Berth, not cached", cold}, {"through Berth, cached", warm}} {
		ttfb, total := median(row.s, func(s sample) time.Duration { return s.ttfb }), median(row.s, func(s sample) time.Duration { return s.total })
		fmt.Printf("| %s | %s | %s | %.0f MiB/s |\n", row.name, ms(ttfb), ms(total), mib/total.Seconds())
	}
	d, c := median(direct, func(s sample) time.Duration { return s.ttfb }), median(cold, func(s sample) time.Duration { return s.ttfb })
	fmt.Printf("\nFirst byte through Berth (not cached) vs the upstream's own: %s vs %s (+%s).\n", ms(c), ms(d), ms(c-d))
	return nil
}

type sample struct{ ttfb, total time.Duration }

func (s sample) String() string { return "first byte " + ms(s.ttfb) + ", total " + ms(s.total) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func median(s []sample, f func(sample) time.Duration) time.Duration {
	v := make([]time.Duration, len(s))
	for i := range s {
		v[i] = f(s[i])
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// client never reuses a connection between measurements: each pull pays
// its own connect, as a fresh client does.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DisableCompression: true}}

// pull GETs a blob, timing the first body byte and the end, and checks
// its size and digest.
func pull(url, dgst string, size int64) (sample, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return sample{}, fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	h := sha256.New()
	var one [1]byte
	if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
		return sample{}, err
	}
	ttfb := time.Since(start)
	h.Write(one[:])
	n, err := io.Copy(h, resp.Body)
	total := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("GET %s: %w", url, err)
	}
	if n+1 != size || "sha256:"+hex.EncodeToString(h.Sum(nil)) != dgst {
		return sample{}, fmt.Errorf("GET %s: wrong content (%d bytes)", url, n+1)
	}
	return sample{ttfb, total}, nil
}

// pushBlob uploads a blob monolithically (POST, then PUT with the body).
func pushBlob(base, repo, dgst string, blob []byte) error {
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST upload: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = base + loc
	}
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(http.MethodPut, loc+sep+"digest="+dgst, bytes.NewReader(blob))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("PUT upload: %s", resp.Status)
	}
	return nil
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(logPath, addr, bin string, args ...string) (*proc, error) {
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = os.Environ()
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); log.Close(); close(p.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		select {
		case <-p.done:
			out, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("%s exited: %s", bin, out)
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready on %s: %v", bin, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// defaultDataRoot is /dev/shm when it has room for need bytes (so the
// disk's writeback does not decide the numbers), else the temp dir.
func defaultDataRoot(need int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && int64(st.Bavail)*int64(st.Bsize) > need {
		return "/dev/shm"
	}
	return os.TempDir()
}
