package main

// The run subcommand: one workload against any registry URL, e.g. for
// profiling a server by hand.

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

func numCPU() int { return runtime.NumCPU() }

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "registry base URL, e.g. http://127.0.0.1:5000 (required)")
	w := fs.String("w", "", "workload: push, chunked, pull, pull-small, images, manifest, catalog, limits, minhttp")
	size := fs.Int64("size", 1<<30, "blob size in bytes (push, chunked, pull, pull-small)")
	chunk := fs.Int64("chunk", 8<<20, "chunk size in bytes (chunked)")
	streams := fs.Int("streams", 1, "parallel streams / clients / connections")
	count := fs.Int("count", 200, "blobs (pull-small) or images (images)")
	passes := fs.Int("passes", 1, "times each blob is pulled (pull-small)")
	method := fs.String("method", "GET", "GET or HEAD (manifest)")
	dur := fs.Duration("dur", 10*time.Second, "duration (manifest, minhttp)")
	repos := fs.Int("repos", 1000, "repositories and tags to populate (catalog; needs an empty registry)")
	pageN := fs.Int("n", 100, "page size (catalog)")
	seed := fs.Uint64("seed", 1, "first seed; runs with different seeds push different blobs/images")
	repo := fs.String("repo", "", "repository of the push, chunked and pull workloads (default bench/<workload>; file/x against `regbench minhttp -dir`, the sendfile server)")
	pid := fs.Int("pid", 0, "server PID: report its peak VmRSS during the workload")
	cpuProfile := fs.String("cpuprofile", "", "write the load generator's own CPU profile to this file")
	zot := fs.Bool("zot", false, "the server is zot: accept its deviations (see the suite's notes)")
	_ = fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *url == "" && *w != "limits" && *w != "minhttp" {
		return fmt.Errorf("run: -url is required")
	}
	c := newClient(*url, max(8, *streams))
	c.zot = *zot
	defer c.close()
	seeds := make([]uint64, *streams)
	for i := range seeds {
		seeds[i] = (*seed + uint64(i)) % seedSpace
	}
	if *w == "push" || *w == "chunked" || *w == "pull" {
		precomputeDigests(*size, seeds...) // before timing
	}
	if *repo == "" {
		*repo = "bench/" + *w
	}
	m := sampleMem(*pid)
	out := func(name, unit string, v float64) { fmt.Printf("%-40s %12s %s\n", name, fmtNum(v), unit) }
	var err error
	switch *w {
	case "push":
		var v float64
		if v, err = pushBig(c, *repo, seeds, *size); err == nil {
			out(fmt.Sprintf("push %s × %d streams", sizeName(*size), *streams), "MiB/s", v)
		}
	case "chunked":
		var v float64
		if v, err = pushChunks(c, *repo, seeds, *size, *chunk); err == nil {
			out(fmt.Sprintf("chunked push %s × %d", sizeName(*size), *streams), "MiB/s", v)
		}
	case "pull":
		var v float64
		if err = ensureBigBlobs(c, *repo, seeds, *size); err == nil {
			if err = verifyPull(c, *repo, seeds[0], *size); err == nil {
				if v, err = pullBig(c, *repo, seeds, *size, false); err == nil {
					out(fmt.Sprintf("pull %s × %d streams", sizeName(*size), *streams), "MiB/s", v)
				}
			}
		}
	case "pull-small":
		ss := make([]uint64, *count)
		for i := range ss {
			ss[i] = (*seed + uint64(i)) % seedSpace
		}
		var mb, bs float64
		if err = ensureBigBlobs(c, "bench/pull-small", ss, *size); err == nil {
			if mb, bs, err = pullSmall(c, "bench/pull-small", ss, *size, *streams, *passes); err == nil {
				out("pull small", "MiB/s", mb)
				out("pull small", "blobs/s", bs)
			}
		}
	case "images":
		var v float64
		ims := makeImages(*seed*100000, *count, 10<<10)
		if v, err = pushImages(*url, fmt.Sprintf("bench/img%d", *seed), ims, *streams); err == nil {
			out(fmt.Sprintf("small images, %d clients", *streams), "images/s", v)
		}
	case "manifest":
		var im *image
		if im, err = setupManifest(c); err == nil {
			var lr loadResult
			if lr, err = manifestLoad(*url, im, strings.ToUpper(*method), *streams, *dur); err == nil {
				out(fmt.Sprintf("manifest %s, %d conns", *method, *streams), "req/s", lr.rps)
				out("p50", "ms", lr.p50ms)
				out("p99", "ms", lr.p99ms)
			}
		}
	case "catalog":
		var im *image
		if im, err = setupSeed(c); err == nil {
			for j, d := range im.digests {
				if err == nil {
					err = c.mountBlob(tagsRepo, seedRepo, d, im.blobs[j])
				}
			}
		}
		if err == nil {
			t0 := time.Now()
			s := &suite{p: params{popConc: 16}}
			var nr, nt int
			if nr, nt, err = s.populateBoth(c, im, *repos, time.Now().Add(time.Hour)); err == nil {
				out(fmt.Sprintf("populate %d repos + %d tags", nr, nt), "s", time.Since(t0).Seconds())
				var v [][4]float64
				if v, _, err = catalogPages([]catalogSide{{c, nr, nt}}, *pageN, 5, true); err == nil {
					for i, n := range pageNames {
						out(n, "ms", v[0][i])
					}
				}
			}
		}
	case "limits":
		out("SHA-256, one core", "MiB/s", sha256Rate(time.Second))
		var v float64
		if v, err = loopbackRate(time.Second); err == nil {
			out("loopback TCP", "MiB/s", v)
		}
	case "minhttp":
		var lr loadResult
		tmp, terr := os.MkdirTemp("", "regbench-minhttp")
		if terr != nil {
			return terr
		}
		defer os.RemoveAll(tmp)
		if lr, _, _, err = minHTTPRate(tmp, *streams, *dur, 0, false); err == nil {
			out(fmt.Sprintf("minimal net/http, %d conns", *streams), "req/s", lr.rps)
			out("p50", "ms", lr.p50ms)
			out("p99", "ms", lr.p99ms)
		}
	default:
		return fmt.Errorf("run: unknown workload %q", *w)
	}
	if *pid > 0 {
		out("server VmRSS peak", "MiB", m.done())
	}
	return err
}
