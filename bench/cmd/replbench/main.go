// Command replbench measures replication: Berth pushing many small images
// and one large image to a local CNCF Distribution 2.8, side by side with
// skopeo sync (and regsync, when -regsync names it) copying the same
// images from Berth to a second, empty Distribution. It starts every
// server on 127.0.0.1, seeds Berth, and prints a markdown table of
// images/s and MiB/s.
//
//	go build -o /tmp/berth ./cmd/berth && go build -o /tmp/replbench ./bench/cmd/replbench
//	/tmp/replbench -berth /tmp/berth [-images 1000] [-repos 10] [-large 1073741824] [-regsync /path/to/regsync]
//
// Each copy goes to a Distribution of its own, so none finds blobs another
// already copied. skopeo sync copies one image at a time; Berth runs the
// rule with concurrency 1 and with 8, and regsync with its default
// parallelism.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
)

func main() {
	berth := flag.String("berth", "", "berth binary (required)")
	dist := flag.String("dist", "/usr/bin/docker-registry", "CNCF Distribution 2.8 binary (the destinations)")
	skopeo := flag.String("skopeo", "skopeo", "skopeo binary")
	regsync := flag.String("regsync", "", "regsync binary (optional)")
	images := flag.Int("images", 1000, "small images")
	repos := flag.Int("repos", 10, "repositories the small images are spread over")
	large := flag.Int64("large", 1<<30, "size of the large image's single layer (0: none)")
	dataRoot := flag.String("data-root", os.TempDir(), "where the servers' data dirs go")
	flag.Parse()
	if *berth == "" {
		fmt.Fprintln(os.Stderr, "replbench: -berth is required")
		os.Exit(2)
	}
	if err := run(*berth, *dist, *skopeo, *regsync, *dataRoot, *images, *repos, *large); err != nil {
		fmt.Fprintln(os.Stderr, "replbench:", err)
		os.Exit(1)
	}
}

type result struct {
	what     string
	tool     string
	images   int
	bytes    int64
	duration time.Duration
}

func run(berthBin, distBin, skopeoBin, regsyncBin, root string, images, repos int, large int64) error {
	dir, err := os.MkdirTemp(root, "replbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	startDist := func(name string) (string, error) {
		addr, err := freeport.Addr()
		if err != nil {
			return "", err
		}
		cfg := filepath.Join(dir, name+".yml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"+
			"storage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n  secret: replbench\n", filepath.Join(dir, name), addr), 0o644); err != nil {
			return "", err
		}
		p, err := start(filepath.Join(dir, name+".log"), addr, distBin, "serve", cfg)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		procs = append(procs, p)
		return addr, nil
	}
	berthAddr, err := freeport.Addr()
	if err != nil {
		return err
	}
	berthCfg := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(berthCfg, []byte("version: 1\nlog:\n  level: warn\n  access: false\njobs:\n  poll: 100ms\nreplication:\n  interval: 200ms\n"), 0o644); err != nil {
		return err
	}
	p, err := start(filepath.Join(dir, "berth.log"), berthAddr, berthBin, "serve", "--config", berthCfg, "--addr", berthAddr, "--data", filepath.Join(dir, "berth"))
	if err != nil {
		return fmt.Errorf("berth: %w", err)
	}
	procs = append(procs, p)
	src := "http://" + berthAddr

	fmt.Fprintf(os.Stderr, "seeding %d small images in %d repositories", images, repos)
	var smallBytes int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < images; i += 8 {
				layer := make([]byte, 1024)
				rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), 1}).Read(layer)
				n, err := pushImage(src, fmt.Sprintf("small/r%d", i%repos), fmt.Sprintf("t%d", i), bytes.NewReader(layer), int64(len(layer)), sha256Of(layer))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				smallBytes += n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Fprintln(os.Stderr, ", and a large image of", large, "bytes")
	if large > 0 {
		largeDigest, err := digestOf(newGen(large))
		if err != nil {
			return err
		}
		if _, err := pushImage(src, "large/img", "v1", newGen(large), large, largeDigest); err != nil {
			return err
		}
	}

	var results []result
	dests := map[string]string{} // copy -> its Distribution
	// Berth, concurrency 1 and 8.
	for _, conc := range []int{1, 8} {
		addr, err := startDist(fmt.Sprintf("dist-berth-%d", conc))
		if err != nil {
			return err
		}
		reg := fmt.Sprintf("d%d", conc)
		dests["berth-"+reg] = addr
		if err := api(src, "POST", "/api/v1/replication/registries", map[string]any{"name": reg, "type": "distribution", "url": "http://" + addr}, nil); err != nil {
			return err
		}
		for _, what := range []string{"small", "large"} {
			if what == "large" && large == 0 {
				continue
			}
			rule := fmt.Sprintf("%s-%d", what, conc)
			if err := api(src, "POST", "/api/v1/replication/rules", map[string]any{"name": rule, "enabled": true, "direction": "push",
				"registry": reg, "repositories": what + "/**", "concurrency": conc}, nil); err != nil {
				return err
			}
			d, run, err := timeRun(src, rule)
			if err != nil {
				return err
			}
			n, b := images, smallBytes
			if what == "large" {
				n, b = 1, large
			}
			if run.Succeeded != n {
				return fmt.Errorf("rule %s: %d of %d images succeeded: %+v", rule, run.Succeeded, n, run)
			}
			results = append(results, result{what, fmt.Sprintf("Berth (concurrency %d)", conc), n, b, d})
		}
	}
	// skopeo sync.
	addr, err := startDist("dist-skopeo")
	if err != nil {
		return err
	}
	dests["skopeo"] = addr
	yml := filepath.Join(dir, "skopeo.yaml")
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s:\n  tls-verify: false\n  images-by-tag-regex:\n", berthAddr)
	for r := range repos {
		fmt.Fprintf(&sb, "    small/r%d: '.*'\n", r)
	}
	if err := os.WriteFile(yml, []byte(sb.String()), 0o644); err != nil {
		return err
	}
	start := time.Now()
	if out, err := exec.Command(skopeoBin, "sync", "--src", "yaml", "--dest", "docker", "--dest-tls-verify=false", "--preserve-digests", yml, addr).CombinedOutput(); err != nil {
		return fmt.Errorf("skopeo sync: %v\n%s", err, tailOf(out))
	}
	results = append(results, result{"small", "skopeo sync", images, smallBytes, time.Since(start)})
	if large > 0 {
		start = time.Now()
		if out, err := exec.Command(skopeoBin, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests",
			"docker://"+berthAddr+"/large/img:v1", "docker://"+addr+"/large/img:v1").CombinedOutput(); err != nil {
			return fmt.Errorf("skopeo copy: %v\n%s", err, tailOf(out))
		}
		results = append(results, result{"large", "skopeo copy", 1, large, time.Since(start)})
	}
	if regsyncBin != "" {
		addr, err := startDist("dist-regsync")
		if err != nil {
			return err
		}
		dests["regsync"] = addr
		var rb strings.Builder
		fmt.Fprintf(&rb, "version: 1\ncreds:\n  - registry: %s\n    tls: disabled\n  - registry: %s\n    tls: disabled\nsync:\n", berthAddr, addr)
		for r := range repos {
			fmt.Fprintf(&rb, "  - source: %s/small/r%d\n    target: %s/small/r%d\n    type: repository\n", berthAddr, r, addr, r)
		}
		cfg := filepath.Join(dir, "regsync.yaml")
		if err := os.WriteFile(cfg, []byte(rb.String()), 0o644); err != nil {
			return err
		}
		start := time.Now()
		cmd := exec.Command(regsyncBin, "once", "-c", cfg)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("regsync: %v\n%s", err, tailOf(out))
		}
		results = append(results, result{"small", "regsync once", images, smallBytes, time.Since(start)})
		if large > 0 {
			lc := filepath.Join(dir, "regsync-large.yaml")
			if err := os.WriteFile(lc, fmt.Appendf(nil, "version: 1\ncreds:\n  - registry: %s\n    tls: disabled\n  - registry: %s\n    tls: disabled\nsync:\n"+
				"  - source: %s/large/img:v1\n    target: %s/large/img:v1\n    type: image\n", berthAddr, addr, berthAddr, addr), 0o644); err != nil {
				return err
			}
			start = time.Now()
			cmd := exec.Command(regsyncBin, "once", "-c", lc)
			cmd.Env = append(os.Environ(), "HOME="+dir)
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("regsync: %v\n%s", err, tailOf(out))
			}
			results = append(results, result{"large", "regsync once", 1, large, time.Since(start)})
		}
	}
	// Every copy has the source's digests.
	check := []string{"small/r0:t0"}
	if large > 0 {
		check = append(check, "large/img:v1")
	}
	for _, ref := range check {
		repo, tag, _ := strings.Cut(ref, ":")
		want, err := manifestDigest(berthAddr, repo, tag)
		if err != nil {
			return err
		}
		for name, addr := range dests {
			at := repo
			if name == "skopeo" && strings.HasPrefix(repo, "small/") {
				at = strings.TrimPrefix(repo, "small/") // skopeo sync keeps the last path component
			}
			if got, err := manifestDigest(addr, at, tag); err != nil || got != want {
				return fmt.Errorf("%s at %s: %s, %v; want %s", ref, name, got, err, want)
			}
		}
	}
	fmt.Printf("| copy | tool | images | time | images/s | MiB/s |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, r := range results {
		s := r.duration.Seconds()
		fmt.Printf("| %s | %s | %d | %.2fs | %.1f | %.1f |\n", r.what, r.tool, r.images, s, float64(r.images)/s, float64(r.bytes)/s/(1<<20))
	}
	return nil
}

// runStatus is the part of a run the benchmark reads.
type runStatus struct {
	ID        int64  `json:"id"`
	Status    string `json:"status"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
}

// timeRun starts a run of rule and waits for it to end.
func timeRun(base, rule string) (time.Duration, runStatus, error) {
	var r runStatus
	start := time.Now()
	if err := api(base, "POST", "/api/v1/replication/rules/"+rule+"/runs", nil, &r); err != nil {
		return 0, r, err
	}
	for {
		if err := api(base, "GET", fmt.Sprintf("/api/v1/replication/runs/%d", r.ID), nil, &r); err != nil {
			return 0, r, err
		}
		if r.Status != "pending" && r.Status != "running" {
			return time.Since(start), r, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func api(base, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// pushImage pushes a one-layer image whose layer is size bytes from r
// (digest d) and returns the bytes pushed.
func pushImage(base, repo, tag string, r io.Reader, size int64, d string) (int64, error) {
	if err := pushBlob(base, repo, d, r, size); err != nil {
		return 0, err
	}
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]}}`, d)
	cd := sha256Of(cfg)
	if err := pushBlob(base, repo, cd, bytes.NewReader(cfg), int64(len(cfg))); err != nil {
		return 0, err
	}
	m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cd, len(cfg), d, size)
	req, _ := http.NewRequest("PUT", base+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(m))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("push manifest %s:%s: %s", repo, tag, resp.Status)
	}
	return size + int64(len(cfg)) + int64(len(m)), nil
}

func pushBlob(base, repo, d string, r io.Reader, size int64) error {
	req, err := http.NewRequest("POST", base+"/v2/"+repo+"/blobs/uploads/?digest="+d, r)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("push blob %s to %s: %s", d, repo, resp.Status)
	}
	return nil
}

// manifestDigest asks a registry for a tag's digest (HEAD).
func manifestDigest(addr, repo, tag string) (string, error) {
	req, _ := http.NewRequest("HEAD", "http://"+addr+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HEAD %s:%s at %s: %s", repo, tag, addr, resp.Status)
	}
	return resp.Header.Get("Docker-Content-Digest"), nil
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// newGen is a reproducible stream of n pseudo-random bytes.
func newGen(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{0x1a, 0x96}), n)
}

func digestOf(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func tailOf(b []byte) string {
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
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
			return nil, errors.New(bin + " not ready on " + addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop stops a process this benchmark started, by its PID.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
