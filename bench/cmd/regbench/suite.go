package main

// The comparison suite: starts Berth and Distribution with equivalent
// settings, runs every workload against both alternately, and reports.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

type params struct {
	smoke                       bool
	runs, starts                int
	big, chunked, chunk, small  int64
	chunkedCount, smallCount    int
	smallPasses                 int // times each small blob is pulled in one run
	images, layerSize           int
	concs                       []int
	dur, limitDur               time.Duration
	catSmall, catLarge, pageN   int
	pageReps, popConc           int
	popCap, popCapBerth, budget time.Duration
	dataRoot, logDir, outFile   string
	only                        map[string]bool
	noWarm                      bool // do not warm the page cache before pushes (pagecache.go)
}

func fullParams() params {
	return params{runs: 3, starts: 5, big: 1 << 30, chunked: 64 << 20, chunk: 8 << 20, small: 1 << 20,
		chunkedCount: 4, smallCount: 200, smallPasses: 5, images: 1000, layerSize: 10 << 10, concs: []int{1, 16, 64},
		dur: 10 * time.Second, limitDur: time.Second, catSmall: 1000, catLarge: 100000, pageN: 100,
		pageReps: 101, popConc: 16, popCap: 90 * time.Second, popCapBerth: 300 * time.Second,
		budget: 25 * time.Minute}
}

func smokeParams() params {
	return params{smoke: true, runs: 1, starts: 1, big: 8 << 20, chunked: 4 << 20, chunk: 1 << 20, small: 64 << 10,
		chunkedCount: 1, smallCount: 20, smallPasses: 1, images: 20, layerSize: 10 << 10, concs: []int{1, 16, 64},
		dur: time.Second, limitDur: 200 * time.Millisecond, catSmall: 100, catLarge: 250, pageN: 20,
		pageReps: 1, popConc: 8, popCap: 20 * time.Second, popCapBerth: 20 * time.Second,
		budget: time.Hour}
}

// Seeds of the big blobs; distinct modulo seedSpace.
var (
	seedOne   = []uint64{1}
	seedFour  = []uint64{2, 3, 4, 5}
	seedChunk = []uint64{10, 11, 12, 13, 14, 15, 16, 17}
)

func seedsSmall(n int) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = uint64(100 + i)
	}
	return s
}

type suite struct {
	p     params
	sides []serverSpec
	res   *results
	t0    time.Time
}

func (s *suite) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(s.t0).Seconds(), fmt.Sprintf(format, a...))
}

// fail records an error; the run goes on and exits non-zero at the end.
func (s *suite) fail(side, what string, err error) {
	msg := fmt.Sprintf("%s, %s: %v", side, what, err)
	s.logf("ERROR %s", msg)
	s.res.errs = append(s.res.errs, msg)
}

func (s *suite) want(w string) bool { return len(s.p.only) == 0 || s.p.only[w] }

// measure runs f while sampling the server's memory, and records the peak.
func (s *suite) measure(srv *server, name string, f func()) {
	m := sampleMem(srv.pid())
	f()
	s.res.add("Memory", "VmRSS peak, "+name, "MiB", srv.spec.label, m.done())
	s.res.add("Memory", "RssAnon peak, "+name, "MiB", srv.spec.label, m.anonPeak())
}

func (s *suite) dir(name string) string { return filepath.Join(s.p.dataRoot, name) }

func (s *suite) start(spec serverSpec, dir string) (*server, error) {
	return startServer(spec, dir, filepath.Join(s.p.logDir, spec.key+".log"))
}

// Workload families of a round, in the order they get the time budget.
var families = []string{"blobs", "images", "manifest"}

func (s *suite) run() {
	s.t0 = time.Now()
	deadline := s.t0.Add(s.p.budget)
	s.limits()
	// Cold starts first: measured after the catalog phase (which fills
	// and frees the large catalogs), both servers' starts took about twice
	// as long on this VM (Berth 28 -> 55-65 ms, Distribution 28 -> 43-52
	// ms), which is the machine, not the servers.
	if s.want("start") {
		s.coldStarts()
	}
	if s.want("catalog") {
		for _, spec := range s.sides {
			s.catalog(spec)
		}
	}
	s.logf("precomputing digests")
	precomputeDigests(s.p.big, seedOne...)
	precomputeDigests(s.p.big/4, seedFour...)
	precomputeDigests(s.p.chunked, seedChunk[:s.p.chunkedCount]...)
	precomputeDigests(s.p.small, seedsSmall(s.p.smallCount)...)
	// Rounds: every family in the first; later rounds run a family only if
	// its last round (both servers) fits in what is left of the budget.
	cost := map[string]time.Duration{}
	done := map[string]int{}
	for r := range s.p.runs {
		var fams []string
		left := time.Until(deadline) - 2*s.p.limitDur // cpuLimits below
		for _, f := range families {
			if s.want(f) && (r == 0 || cost[f] <= left) {
				fams = append(fams, f)
				left -= cost[f]
				done[f]++
			}
		}
		if len(fams) == 0 {
			break
		}
		// The machine's limits again, so the targets compare with figures
		// from the same stretch of a noisy machine's time.
		s.cpuLimits(1)
		took := map[string]time.Duration{}
		if slices.Contains(fams, "manifest") {
			t0 := time.Now()
			s.httpLimits(false)
			took["manifest"] = time.Since(t0)
		}
		if slices.Contains(fams, "blobs") {
			t0 := time.Now()
			s.sendfileLimits()
			took["blobs"] = time.Since(t0)
		}
		for i := range s.sides {
			s.round(r, s.sides[(i+r)%len(s.sides)], fams, took) // rotate which goes first
		}
		for f, d := range took {
			cost[f] = d
		}
	}
	for _, f := range families {
		if s.want(f) && done[f] < s.p.runs {
			s.res.notes = append(s.res.notes, fmt.Sprintf("Workload family %q ran %d of %d runs to stay within the %s time budget.", f, done[f], s.p.runs, s.p.budget))
		}
	}
	s.logf("done")
}

// coldStarts measures start-to-ready with empty data dirs, alternating sides.
func (s *suite) coldStarts() {
	for i := range s.p.starts {
		for _, spec := range s.sides {
			d := s.dir(fmt.Sprintf("start-%s-%d", spec.key, i))
			srv, err := s.start(spec, d)
			if err != nil {
				s.fail(spec.label, "cold start", err)
				continue
			}
			s.res.add("Start", "start to ready, empty data dir", "ms", spec.label, ms(srv.ready))
			srv.stop()
			os.RemoveAll(d)
		}
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// cpuLimits measures single-core SHA-256, loopback TCP and writing a
// big blob's worth of bytes to the data root reps times.
func (s *suite) cpuLimits(reps int) {
	for range reps {
		s.res.setLimit("SHA-256, one core", "MiB/s", sha256Rate(s.p.limitDur))
		if v, err := loopbackRate(s.p.limitDur); err != nil {
			s.fail("machine", "loopback TCP", err)
		} else {
			s.res.setLimit("loopback TCP", "MiB/s", v)
		}
		s.warm(s.p.big)
		if v, err := storageWriteRate(s.p.dataRoot, s.p.big); err != nil {
			s.fail("machine", "storage write", err)
		} else {
			s.res.setLimit(limitStorageWrite, "MiB/s", v)
		}
		idle := 5 * time.Second
		if s.p.smoke {
			idle = 100 * time.Millisecond
		}
		if hot, cold, err := pageCacheRates(s.p.dataRoot, s.p.big/2, idle); err != nil {
			s.fail("machine", "page-cache write", err)
		} else {
			s.res.setLimit(limitPageCacheHot, "MiB/s", hot)
			s.res.setLimit(limitPageCacheCold, "MiB/s", cold)
		}
	}
}

// The page-cache limits (pagecache.go): buffered writes into memory freed
// a moment ago and into memory left free for a few seconds, which this
// VM's host has taken back.
const (
	limitPageCacheHot  = "page-cache write, memory freed just before"
	limitPageCacheCold = "page-cache write, memory free for 5 s"
)

// warm warms the page cache for a workload that writes size bytes, unless
// the suite was told not to (-warm=false).
func (s *suite) warm(size int64) {
	if s.p.noWarm {
		return
	}
	if err := warmPageCache(s.p.dataRoot, size); err != nil {
		s.fail("machine", "warm the page cache", err)
	}
}

// limitStorageWrite names the storage limit: one file of the big blobs'
// size written to the data root and fsync'd.
const limitStorageWrite = "storage write, one big-blob file + fsync"

// httpLimits measures the minimal net/http server's request rate at 64
// connections (and, with ceilings, what the load generator can push and
// pull against a null server).
func (s *suite) httpLimits(ceilings bool) {
	if ceilings {
		bigDigest(seedOne[0], s.p.big)
	}
	lr, push, pull, err := minHTTPRate(s.p.dataRoot, 64, s.p.dur, s.p.big, ceilings)
	if err != nil {
		s.fail("machine", "minimal net/http", err)
		return
	}
	s.res.setLimit("minimal net/http, 64 conns", "req/s", lr.rps)
	s.res.setLimit("minimal net/http, 64 conns, p99", "ms", lr.p99ms)
	if ceilings {
		s.res.setLimit("load generator ceiling: push "+sizeName(s.p.big)+" to a null server", "MiB/s", push)
		s.res.setLimit("load generator ceiling: pull "+sizeName(s.p.big)+" from a null server", "MiB/s", pull)
	}
}

// Names of the sendfile server's pull figures (machine limits).
func sendfileLimitOne(p params) string {
	return "minimal sendfile server: pull 1 × " + sizeName(p.big) + ", 1 stream"
}
func sendfileLimitFour(p params) string {
	return "minimal sendfile server: pull 4 × " + sizeName(p.big/4) + ", 4 streams"
}

// sendfileLimits measures pulls of the suite's big blobs from the minimal
// sendfile server: the ceiling of the pull workloads.
func (s *suite) sendfileLimits() {
	one, four, err := sendfileCeiling(s.p.dataRoot, s.p.big)
	if err != nil {
		s.fail("machine", "minimal sendfile server", err)
		return
	}
	s.res.setLimit(sendfileLimitOne(s.p), "MiB/s", one)
	s.res.setLimit(sendfileLimitFour(s.p), "MiB/s", four)
}

func (s *suite) limits() {
	s.cpuLimits(3)
	s.httpLimits(true)
	s.logf("limits: sha256 %.0f MiB/s, loopback %.0f MiB/s, minhttp %.0f req/s",
		s.res.limit("SHA-256, one core"), s.res.limit("loopback TCP"), s.res.limit("minimal net/http, 64 conns"))
}

// round runs the given families of workloads 1-5 against a fresh server
// with an empty data dir, adding each family's time to took.
func (s *suite) round(r int, spec serverSpec, fams []string, took map[string]time.Duration) {
	p, side := s.p, spec.label
	dir := s.dir(fmt.Sprintf("round%d-%s", r, spec.key))
	defer os.RemoveAll(dir)
	srv, err := s.start(spec, dir)
	if err != nil {
		s.fail(side, "start", err)
		return
	}
	defer srv.stop()
	idle := time.Second // let the server settle before reading its idle memory
	if p.smoke {
		idle = 100 * time.Millisecond
	}
	time.Sleep(idle)
	if m, err := procStatus(srv.pid()); err == nil {
		s.res.add("Memory", "VmRSS idle (empty)", "MiB", side, m["VmRSS"])
		// The part that is not the executable's (shared, clean) file pages.
		s.res.add("Memory", "RssAnon idle (empty)", "MiB", side, m["RssAnon"])
	}
	c := newClient(srv.url, 8)
	c.zot = spec.kind == "zot"
	defer c.close()
	s.logf("round %d: %s at %s", r+1, side, srv.url)
	sz := sizeName(p.big)
	rec := func(sec, name, unit string, v float64, err error) {
		if err != nil {
			s.fail(side, name, err)
			return
		}
		s.res.add(sec, name, unit, side, v)
	}
	timed := func(f string, fn func()) {
		if slices.Contains(fams, f) {
			t0 := time.Now()
			fn()
			took[f] += time.Since(t0)
		}
	}
	timed("blobs", func() {
		s.measure(srv, "push blobs", func() {
			// Every push starts on page cache freed a moment ago, whatever
			// ran before it (pagecache.go).
			s.warm(p.big)
			v, err := pushBig(c, "big/one", seedOne, p.big)
			rec("Push", "1 blob, 1 stream", "MiB/s", v, err)
			s.warm(p.big)
			v, err = pushBig(c, "big/four", seedFour, p.big/4)
			rec("Push", "4 blobs, 4 streams", "MiB/s", v, err)
			s.warm(p.chunked * int64(p.chunkedCount))
			v, err = pushChunks(c, "big/chunked", seedChunk[:p.chunkedCount], p.chunked, p.chunk)
			rec("Push", fmt.Sprintf("%s blob in %s chunks", sizeName(p.chunked), sizeName(p.chunk)), "MiB/s", v, err)
		})
		if r == 0 {
			if err := verifyPull(c, "big/one", seedOne[0], p.big); err != nil {
				s.fail(side, "SHA-256 check of a pulled "+sz+" blob", err)
			}
		}
		if err := ensureBigBlobs(c, "small/blobs", seedsSmall(p.smallCount), p.small); err != nil {
			s.fail(side, "push small blobs for pulling", err)
		}
		s.measure(srv, "pull blobs", func() {
			v, err := pullBig(c, "big/one", seedOne, p.big, false)
			rec("Pull", "1 big blob, 1 stream", "MiB/s", v, err)
			v, err = pullBig(c, "big/four", seedFour, p.big/4, false)
			rec("Pull", "4 big blobs, 4 streams", "MiB/s", v, err)
			for _, st := range []int{1, 4} {
				c2 := newClient(srv.url, st)
				mb, bs, err := pullSmall(c2, "small/blobs", seedsSmall(p.smallCount), p.small, st, p.smallPasses)
				c2.close()
				name := fmt.Sprintf("%d × %s blobs, %d stream%s", p.smallCount, sizeName(p.small), st, map[bool]string{true: "s"}[st > 1])
				rec("Pull", name, "MiB/s", mb, err)
				if err == nil {
					rec("Pull", name, "blobs/s", bs, nil)
				}
			}
		})
	})
	timed("images", func() {
		s.measure(srv, "small images", func() {
			for i, cl := range []int{1, 4} {
				ims := makeImages(uint64(10000*(i+1)), p.images, p.layerSize)
				v, err := pushImages(srv.url, fmt.Sprintf("small%d", cl), ims, cl)
				rec("Images", fmt.Sprintf("push small images, %d client%s", cl, map[bool]string{true: "s"}[cl > 1]), "images/s", v, err)
			}
		})
	})
	timed("manifest", func() {
		im, err := setupManifest(c)
		if err != nil {
			s.fail(side, "push manifest for workload 5", err)
		} else {
			s.measure(srv, "manifest GET/HEAD", func() {
				for _, m := range []string{"GET", "HEAD"} {
					for _, cc := range p.concs {
						lr, err := manifestLoad(srv.url, im, m, cc, p.dur)
						name := fmt.Sprintf("%s, %d conns", m, cc)
						rec("Manifest", name, "req/s", lr.rps, err)
						if err == nil {
							rec("Manifest", name+", p50", "ms", lr.p50ms, nil)
							rec("Manifest", name+", p99", "ms", lr.p99ms, nil)
						}
					}
				}
			})
		}
	})
	if _, hwm, err := procMem(srv.pid()); err == nil {
		s.res.add("Memory", "VmHWM at end of round", "MiB", side, hwm)
	}
}

func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d KiB", n>>10)
	}
}
