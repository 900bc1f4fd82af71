// Command regbench is Berth's load generator. It speaks the registry HTTP API
// directly.
//
//	regbench suite [flags]        compare Berth and Distribution (bench/run.sh)
//	regbench run -url URL -w W    one workload against any registry
//	regbench minhttp -addr A      minimal net/http server (baseline)
//
// See bench/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "suite":
		err = cmdSuite(os.Args[2:])
	case "run":
		err = cmdRun(os.Args[2:])
	case "minhttp":
		fs := flag.NewFlagSet("minhttp", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		_ = fs.Parse(os.Args[2:])
		err = runMinHTTP(*addr)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: regbench suite|run|minhttp [flags]  (-h for flags)")
	os.Exit(2)
}

func cmdSuite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	smoke := fs.Bool("smoke", false, "tiny sizes, one run each: checks the harness, not speed")
	berth := fs.String("berth", "", "berth binary; empty: a second Distribution stands in for Berth")
	dist := fs.String("dist", "/usr/bin/docker-registry", "CNCF Distribution 2.8 binary")
	runs := fs.Int("runs", 0, "runs of each workload per server (default 3, smoke 1)")
	dur := fs.Duration("dur", 0, "duration of each manifest GET/HEAD run (default 10s, smoke 1s)")
	popCap := fs.Duration("pop-cap", 0, "cap on populating Distribution's large catalog (default 90s)")
	budget := fs.Duration("budget", 0, "time budget: later runs of a workload family are skipped if they would not fit (default 13m)")
	large := fs.Int("large", 0, "repositories and tags in the large catalog (default 100000)")
	dataRoot := fs.String("data-root", "", "where the servers' temp data dirs go (default /dev/shm if it has 6 GiB free, else $TMPDIR)")
	out := fs.String("out", "bench/out/results.md", "markdown results file")
	logs := fs.String("logs", "bench/out/logs", "directory for server logs")
	store := fs.String("backend", "fs", "where both servers keep data: fs (local filesystem), s3 (MinIO; Berth's metadata in PostgreSQL) or azure (Berth on Azurite with PostgreSQL; Distribution on fs)")
	only := fs.String("only", "", "comma-separated subset of: blobs,images,manifest,catalog,start")
	_ = fs.Parse(args)
	p := fullParams()
	if *smoke {
		p = smokeParams()
	}
	if *runs > 0 {
		p.runs = *runs
	}
	if *dur > 0 {
		p.dur = *dur
	}
	if *popCap > 0 {
		p.popCap = *popCap
	}
	if *budget > 0 {
		p.budget = *budget
	}
	if *large > 0 {
		p.catLarge = *large
	}
	if *only != "" {
		p.only = map[string]bool{}
		for _, w := range strings.Split(*only, ",") {
			p.only[strings.TrimSpace(w)] = true
		}
	}
	root := *dataRoot
	if root == "" {
		root = os.TempDir()
		var st syscall.Statfs_t
		if syscall.Statfs("/dev/shm", &st) == nil && int64(st.Bavail)*st.Bsize > 6<<30 {
			root = "/dev/shm"
		}
	}
	tmp, err := os.MkdirTemp(root, "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	be, err := startBackend(*store)
	if err != nil {
		return err
	}
	defer be.close()
	// On interrupt or when far over time, stop the servers and clean up.
	abort := func(msg string, code int) {
		fmt.Fprintln(os.Stderr, "regbench:", msg)
		killAll()
		be.close()
		time.Sleep(200 * time.Millisecond)
		os.RemoveAll(tmp)
		os.Exit(code)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { abort(fmt.Sprint("got ", <-sig), 130) }()
	watchdog := p.budget + 5*time.Minute
	if p.smoke {
		watchdog = 5 * time.Minute
	}
	time.AfterFunc(watchdog, func() { abort(fmt.Sprintf("suite still running after %s: a server hangs? giving up", watchdog), 1) })
	p.dataRoot, p.logDir, p.outFile = tmp, *logs, *out
	if err := os.MkdirAll(p.logDir, 0o755); err != nil {
		return err
	}
	for _, l := range []string{sideA, sideB} {
		os.Remove(filepath.Join(p.logDir, l+".log"))
	}
	s := &suite{p: p, res: newResults()}
	a := serverSpec{label: sideA, kind: "berth", bin: *berth, store: be}
	if *berth == "" {
		a = serverSpec{label: sideA, kind: "distribution", bin: *dist, store: be}
		s.res.notes = append(s.res.notes, "**No Berth binary: the Berth column is a second CNCF Distribution (stand-in). Ratios compare Distribution with itself.**")
	}
	s.sides = []serverSpec{a, {label: sideB, kind: "distribution", bin: *dist, store: be}}
	mode := "full"
	if p.smoke {
		mode = "smoke (tiny sizes; checks the harness, not speed)"
	}
	s.run()
	s.res.notes = append(s.res.notes,
		storageNote(*store, root),
		fmt.Sprintf("Catalog: small = %d repositories, large = %d; the tag list is of %s, which has %d tags in both; pages of n=%d, the middle one with last= at half the list; times are medians of up to %d requests, the small and the large catalog's pages timed in turns (two servers of the same kind at once, one on a copy of the small catalog's data dir), so the machine's drift hits both sizes alike. Populating uses %d concurrent clients: a mount of the config and layer from %s and a manifest PUT per repository.",
			p.catSmall, p.catLarge, tagsRepo, p.catSmall, p.pageN, p.pageReps, p.popConc, seedRepo),
		fmt.Sprintf("Push 4 streams pushes 4 different blobs of %s each (same total as one stream); pull 4 streams pulls those.", sizeName(p.big/4)),
		"Pull throughput checks the start of every 64 KiB block and the length against the generator on each run, plus a full SHA-256 of one pulled big blob per server; small-blob pulls compare every byte.",
		fmt.Sprintf("Total suite time %.0f s.", time.Since(s.t0).Seconds()))
	hn, _ := os.Hostname()
	header := fmt.Sprintf("## Berth vs CNCF Distribution — %s\n\n%s, host %s, %d CPUs; medians of %d run(s); manifest runs %s each.",
		mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), hn, numCPU(), p.runs, p.dur)
	f, err := os.Create(p.outFile)
	if err != nil {
		return err
	}
	s.res.write(f, header)
	f.Close()
	s.res.write(os.Stdout, header)
	// A closing line that test-output readers understand: measurements
	// taken (each passed its checks) and failures.
	fmt.Printf("regbench: %d passed, %d failed\n", s.res.count(), len(s.res.errs))
	if len(s.res.errs) > 0 {
		return fmt.Errorf("%d workload(s) failed; see ERRORS above", len(s.res.errs))
	}
	return nil
}

func storageNote(store, root string) string {
	if store == "azure" {
		return "Berth stores blobs in one Azurite (the Azure Storage emulator, started by the harness, on loopback, data on disk) under a prefix per start, with blob downloads redirected to SAS URLs, and its metadata in PostgreSQL 15 (a fresh database per start). Distribution 2.8's azure driver cannot reach an emulator, so Distribution uses filesystem storage: the ratios are not like for like. No auth, logs at warn."
	}
	if store == "s3" {
		return "Both servers store blobs in one MinIO (started by the harness, on loopback) under a prefix per start, with blob downloads redirected to presigned URLs (both servers' default for S3); Berth's metadata is in PostgreSQL 15 (a fresh database per start). No auth, logs at warn (Distribution's access log off)."
	}
	return fmt.Sprintf("Data dirs under %s; both servers use filesystem storage there, no auth, logs at warn (Distribution's access log off).", root)
}
