package main

// Starting and stopping the servers under test, readiness, and memory
// (VmRSS / VmHWM from /proc/PID/status).

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
)

// serverSpec says how to start one side of the comparison.
type serverSpec struct {
	label string // "Berth", "Distribution 2.8", "Distribution 3", "zot"
	key   string // short name for data dirs and logs: "berth", "dist2", "dist3", "zot"
	kind  string // "berth", "distribution", "zot", "minhttp" or "sendfile"
	bin   string
	store *backend // where the data goes; nil: local filesystem
	env   []string // more environment for Berth (soak: GC settings)
	// share names the data dir whose S3 prefix and database a Berth
	// instance uses (a second instance of a cluster); empty: its own.
	share string
}

type server struct {
	spec  serverSpec
	cmd   *exec.Cmd
	url   string
	dir   string
	ready time.Duration // from exec to first 200 on /v2/
	log   *os.File
	done  chan struct{}
}

const distConfig = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
%s  delete:
    enabled: true
http:
  addr: %s
  secret: berth-bench-secret
`

// zotConfig: filesystem storage in the data dir (dedupe on and GC off, zot's
// defaults), logs at error (zot has no access log switch of its own; its
// "error" level leaves request logging out).
const zotConfig = `{"distSpecVersion":"1.0.1","storage":{"rootDirectory":%q},
 "http":{"address":%q,"port":%q},"log":{"level":"error"}}
`

// startServer starts spec on a free port with data directory dir (created
// if needed), logging to logPath, and waits until GET /v2/ (or / for
// minhttp) returns 200.
func startServer(spec serverSpec, dir, logPath string) (*server, error) {
	port, err := freeport.Port()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var cmd *exec.Cmd
	probe := "/v2/"
	switch spec.kind {
	case "berth":
		place := dir
		if spec.share != "" {
			place = spec.share
		}
		env, err := spec.store.berthEnv(place)
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(spec.bin, "serve", "--addr", addr, "--data", dir)
		cmd.Env = append(append(append(withoutAWS(os.Environ()), "BERTH_LOG_LEVEL=warn"), env...), spec.env...)
	case "distribution":
		cfg := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-config.yml")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(distConfig, spec.store.distStorage(dir), addr)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(spec.bin, "serve", cfg)
		cmd.Env = withoutAWS(os.Environ())
	case "zot":
		if spec.store != nil && spec.store.kind != "fs" {
			return nil, fmt.Errorf("zot: only the fs backend is set up in this harness")
		}
		cfg := filepath.Join(filepath.Dir(dir), filepath.Base(dir)+"-zot.json")
		host, port, _ := strings.Cut(addr, ":")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(zotConfig, dir, host, port)), 0o644); err != nil {
			return nil, err
		}
		cmd = exec.Command(spec.bin, "serve", cfg)
		cmd.Env = withoutAWS(os.Environ())
	case "minhttp":
		cmd = exec.Command(spec.bin, "minhttp", "-addr", addr, "-dir", dir)
		probe = "/"
	default:
		return nil, fmt.Errorf("unknown server kind %q", spec.kind)
	}
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{spec: spec, cmd: cmd, url: "http://" + addr, dir: dir, log: lf, done: make(chan struct{})}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	running.Store(s, true)
	go func() { _ = cmd.Wait(); running.Delete(s); close(s.done) }()
	for {
		resp, err := hc.Get(s.url + probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				s.ready = time.Since(t0)
				return s, nil
			}
		}
		select {
		case <-s.done:
			lf.Close()
			return nil, fmt.Errorf("%s exited before it was ready (see %s)", spec.label, logPath)
		case <-time.After(time.Millisecond):
		}
		if time.Since(t0) > 30*time.Second {
			s.stop()
			return nil, fmt.Errorf("%s not ready after 30 s (see %s)", spec.label, logPath)
		}
	}
}

// stop sends SIGTERM to the process this harness started, and SIGKILL if
// it has not exited after 10 s.
func (s *server) stop() {
	if s == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// running holds the servers this process started and has not stopped.
var running sync.Map

// killAll kills every server this process started (on interrupt or
// timeout), by PID.
func killAll() {
	running.Range(func(k, _ any) bool {
		_ = k.(*server).cmd.Process.Kill()
		return true
	})
}

// procMem reads a process's VmRSS and VmHWM from /proc, in MiB.
func procMem(pid int) (rss, hwm float64, err error) {
	m, err := procStatus(pid)
	return m["VmRSS"], m["VmHWM"], err
}

// procStatus reads the kB fields of /proc/PID/status (VmRSS, VmHWM,
// RssAnon, RssFile...) in MiB.
func procStatus(pid int) (map[string]float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if v = strings.TrimSpace(v); !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64)
		m[k] = kb / 1024
	}
	return m, sc.Err()
}

// memSampler records the peak VmRSS and the peak RssAnon of a process
// while a workload runs.
type memSampler struct {
	pid        int
	stop       chan struct{}
	wg         sync.WaitGroup
	peak, anon float64
}

func sampleMem(pid int) *memSampler {
	m := &memSampler{pid: pid, stop: make(chan struct{})}
	if pid <= 0 {
		return m
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	if st, err := procStatus(m.pid); err == nil {
		m.peak, m.anon = max(m.peak, st["VmRSS"]), max(m.anon, st["RssAnon"])
	}
}

// done stops sampling and returns the peak VmRSS in MiB (anonPeak has the
// peak RssAnon).
func (m *memSampler) done() float64 {
	close(m.stop)
	m.wg.Wait()
	if m.pid > 0 {
		m.sample()
	}
	return m.peak
}

// anonPeak is the peak RssAnon in MiB, once done returned.
func (m *memSampler) anonPeak() float64 { return m.anon }
