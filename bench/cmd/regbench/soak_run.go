package main

// The soak subcommand: starts the instances, runs the load, samples them
// and writes the report.

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/freeport"
)

// soakSample is one row of the report: the interval that ended at t.
type soakSample struct {
	t                    time.Duration
	ops                  map[string]int
	rate, p50, p99       float64
	rss                  []float64 // per instance, MiB
	anon                 []float64 // RssAnon: process memory not backed by a file (MiB)
	heap, goMem          []float64 // Go heap in use; all the Go runtime holds from the OS (MiB)
	fds, goroutines, gcs []int
	errs                 int
}

func cmdSoak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ExitOnError)
	berth := fs.String("berth", "", "berth binary (required)")
	dur := fs.Duration("dur", 30*time.Minute, "how long the load runs")
	interval := fs.Duration("interval", 0, "sampling interval (default dur/30, at least 5s)")
	clients := fs.Int("clients", 32, "concurrent clients")
	gcEvery := fs.Duration("gc", 5*time.Minute, "Berth's GC interval (BERTH_GC_INTERVAL)")
	grace := fs.Duration("gc-grace", time.Minute, "Berth's GC grace period: deleted content older than this is collected")
	store := fs.String("backend", "fs", "fs (filesystem + SQLite) or s3 (MinIO + PostgreSQL, started here)")
	instances := fs.Int("instances", 1, "Berth instances sharing the store (more than one needs -backend s3)")
	dataRoot := fs.String("data-root", "", "where the data dirs go (default on disk, /var/tmp)")
	out := fs.String("out", "bench/out/soak.md", "markdown report")
	logs := fs.String("logs", "bench/out/logs", "directory for server logs")
	pprofDir := fs.String("pprof", "", "save a heap profile of each instance at every sample into this directory (serves pprof on a loopback debug.addr)")
	extraEnv := fs.String("env", "", "more environment for Berth, comma-separated K=V (e.g. GOMEMLIMIT=80MiB)")
	_ = fs.Parse(args)
	if *berth == "" {
		return fmt.Errorf("soak: -berth is required")
	}
	if *instances > 1 && *store != "s3" {
		return fmt.Errorf("soak: %d instances need -backend s3 (one shared store and database)", *instances)
	}
	if *interval <= 0 {
		*interval = max(5*time.Second, *dur/30)
	}
	root := *dataRoot
	if root == "" {
		root = defaultDataRoot()
	}
	tmp, err := os.MkdirTemp(root, "berth-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	be, err := startBackend(*store)
	if err != nil {
		return err
	}
	defer be.close()
	if err := os.MkdirAll(*logs, 0o755); err != nil {
		return err
	}
	env := []string{"BERTH_GC_INTERVAL=" + gcEvery.String(), "BERTH_GC_GRACE_PERIOD=" + grace.String()}
	if *extraEnv != "" {
		env = append(env, strings.Split(*extraEnv, ",")...)
	}
	if *pprofDir != "" {
		if err := os.MkdirAll(*pprofDir, 0o755); err != nil {
			return err
		}
	}
	var debugAddrs []string
	var srvs []*server
	defer func() {
		for _, s := range srvs {
			s.stop()
		}
	}()
	first := filepath.Join(tmp, "berth-1")
	for i := range *instances {
		spec := serverSpec{label: fmt.Sprintf("Berth %d", i+1), key: fmt.Sprintf("soak-berth-%d", i+1), kind: "berth",
			bin: *berth, store: be, env: env}
		if i > 0 {
			spec.share = first
		}
		if *pprofDir != "" {
			port, err := freeport.Port()
			if err != nil {
				return err
			}
			debugAddrs = append(debugAddrs, fmt.Sprintf("127.0.0.1:%d", port))
			spec.env = append(slices.Clone(env), "BERTH_DEBUG_ADDR="+debugAddrs[i])
		}
		s, err := startServer(spec, filepath.Join(tmp, fmt.Sprintf("berth-%d", i+1)), filepath.Join(*logs, spec.key+".log"))
		if err != nil {
			return err
		}
		srvs = append(srvs, s)
	}
	urls := make([]string, len(srvs))
	for i, s := range srvs {
		urls[i] = s.url
	}
	// The shared base layers, in an image of their own that stays tagged.
	c := newClient(urls[0], 1)
	bases := make([]*image, soakBaseLayers)
	for i := range bases {
		bases[i] = makeImage(uint64(777000+i), 1, soakLayerSize)
		for j, d := range bases[i].digests {
			if err := c.ensureBlob("soak/base", bases[i].blobs[j], d); err != nil {
				return err
			}
		}
		if err := c.putManifest("soak/base", fmt.Sprintf("b%d", i), bases[i].manifest, bases[i].mdigest); err != nil {
			return err
		}
	}
	c.close()

	fmt.Fprintf(os.Stderr, "soak: %d instance(s) on %s, %d clients, %s, sampled every %s\n", len(srvs), *store, *clients, *dur, *interval)
	stats := newSoakStats()
	stop := make(chan struct{})
	var ops atomic.Int64
	t0 := time.Now()
	wg := soakLoad(urls, *clients, bases, stats, stop, &ops)
	var samples []soakSample
	tick := time.NewTicker(*interval)
	last, lastT := int64(0), t0
	for done := false; !done; {
		<-tick.C
		now := time.Now()
		n := ops.Load()
		lat := stats.take()
		sm := soakSample{t: now.Sub(t0), ops: map[string]int{}, rate: float64(n-last) / now.Sub(lastT).Seconds()}
		var all []float64
		for op, v := range lat {
			sm.ops[op] = len(v)
			all = append(all, v...)
		}
		sm.p50, sm.p99 = percentile(all, 50), percentile(all, 99)
		for i, s := range srvs {
			rss, _, _ := procMem(s.pid())
			sm.rss = append(sm.rss, rss)
			sm.anon = append(sm.anon, procAnon(s.pid()))
			sm.fds = append(sm.fds, countFDs(s.pid()))
			g := scrapeGauges(s.url)
			sm.goroutines = append(sm.goroutines, g.goroutines)
			sm.gcs = append(sm.gcs, g.gcRuns)
			sm.heap = append(sm.heap, g.heapInuse/(1<<20))
			sm.goMem = append(sm.goMem, (g.goSys-g.heapReleased)/(1<<20))
			if *pprofDir != "" {
				saveHeapProfile(debugAddrs[i], filepath.Join(*pprofDir, fmt.Sprintf("%s-%04ds.heap", s.spec.key, int(sm.t.Seconds()))))
			}
		}
		stats.mu.Lock()
		sm.errs = stats.nerr
		stats.mu.Unlock()
		samples = append(samples, sm)
		fmt.Fprintf(os.Stderr, "soak: %s\n", sm.line())
		last, lastT = n, now
		if time.Since(t0) >= *dur {
			close(stop)
			wg.Wait()
			done = true
		}
	}
	tick.Stop()
	rep := soakReport(samples, stats, *store, len(srvs), *clients, *dur, *gcEvery, *grace, root)
	if err := os.WriteFile(*out, []byte(rep), 0o644); err != nil {
		return err
	}
	fmt.Print(rep)
	if stats.nerr > 0 {
		return fmt.Errorf("soak: %d errors", stats.nerr)
	}
	return nil
}

func (sm soakSample) line() string {
	return fmt.Sprintf("t=%s %.0f ops/s p99 %.1f ms rss %v anon %v go heap %v go %v fds %v goroutines %v gc runs %v errors %d",
		sm.t.Round(time.Second), sm.rate, sm.p99, fmtList(sm.rss), fmtList(sm.anon), fmtList(sm.heap), fmtList(sm.goMem), sm.fds, sm.goroutines, sm.gcs, sm.errs)
}

func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(s, "/")
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}

func countFDs(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(es)
}

// gauges are what the soak reads from an instance's /metrics.
type gauges struct {
	goroutines, gcRuns             int
	heapInuse, goSys, heapReleased float64 // bytes
}

// scrapeGauges reads go_goroutines, the number of GC runs and the Go
// runtime's memory from an instance's /metrics.
func scrapeGauges(base string) gauges {
	g := gauges{goroutines: -1, gcRuns: -1}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	g.goroutines, g.gcRuns = 0, 0
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		name, val, ok := strings.Cut(l, " ")
		if !ok || strings.HasPrefix(l, "#") {
			continue
		}
		v, _ := strconv.ParseFloat(val, 64)
		switch {
		case name == "go_goroutines":
			g.goroutines = int(v)
		case name == "go_memstats_heap_inuse_bytes":
			g.heapInuse = v
		case name == "go_memstats_sys_bytes":
			g.goSys = v
		case name == "go_memstats_heap_released_bytes":
			g.heapReleased = v
		case strings.HasPrefix(name, "berth_gc_runs_total"):
			g.gcRuns += int(v)
		}
	}
	return g
}

// procAnon returns a process's RssAnon in MiB (memory not backed by a
// file: the Go heap and stacks, and what C code such as SQLite allocates).
func procAnon(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "RssAnon:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// saveHeapProfile saves an instance's heap profile (go tool pprof
// -inuse_space; -base an earlier one for what grew in between).
func saveHeapProfile(addr, path string) {
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: heap profile: %v\n", err)
		return
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "soak: heap profile: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
