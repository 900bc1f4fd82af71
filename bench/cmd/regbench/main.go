// Command regbench is Berth's load generator. It speaks the registry HTTP API
// directly.
//
//	regbench suite [flags]        compare Berth and Distribution (bench/run.sh)
//	regbench run -url URL -w W    one workload against any registry
//	regbench soak -berth BIN      long mixed load against Berth (make soak)
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
	case "soak":
		err = cmdSoak(os.Args[2:])
	case "minhttp":
		fs := flag.NewFlagSet("minhttp", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:0", "listen address")
		dir := fs.String("dir", "", "where blobs pushed to file/... are kept (the sendfile server)")
		_ = fs.Parse(os.Args[2:])
		err = runMinHTTP(*addr, *dir)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: regbench suite|run|soak|minhttp [flags]  (-h for flags)")
	os.Exit(2)
}

func cmdSuite(args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	smoke := fs.Bool("smoke", false, "tiny sizes, one run each: checks the harness, not speed")
	berth := fs.String("berth", "", "berth binary; empty: a second Distribution stands in for Berth")
	dist := fs.String("dist", "/usr/bin/docker-registry", "CNCF Distribution 2.8 binary (the reference row)")
	dist3 := fs.String("dist3", "", "CNCF Distribution 3 binary; empty: not compared")
	zot := fs.String("zot", "", "zot binary; empty: not compared")
	runs := fs.Int("runs", 0, "runs of each workload per server (default 3, smoke 1)")
	dur := fs.Duration("dur", 0, "duration of each manifest GET/HEAD run (default 10s, smoke 1s)")
	popCap := fs.Duration("pop-cap", 0, "cap on populating Distribution's large catalog (default 90s)")
	budget := fs.Duration("budget", 0, "time budget: later runs of a workload family are skipped if they would not fit (default 25m)")
	large := fs.Int("large", 0, "repositories and tags in the large catalog (default 100000)")
	dataRoot := fs.String("data-root", "", "where the servers' temp data dirs go (default: on disk, /var/tmp; /dev/shm to leave the disk out)")
	out := fs.String("out", "bench/out/results.md", "markdown results file")
	logs := fs.String("logs", "bench/out/logs", "directory for server logs")
	store := fs.String("backend", "fs", "where both servers keep data: fs (local filesystem), s3 (MinIO; Berth's metadata in PostgreSQL), azure (Berth on Azurite with PostgreSQL; Distribution on fs) or gcs (Berth on fake-gcs-server with PostgreSQL; Distribution on fs)")
	only := fs.String("only", "", "comma-separated subset of: blobs,images,manifest,catalog,start")
	warm := fs.Bool("warm", true, "warm the page cache before every push workload, so no server writes into memory the VM's host took back (see pagecache.go)")
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
		root = defaultDataRoot()
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
	// The budget stops later rounds, but the catalog phase and the first
	// round always run: with four servers on a loaded machine they can
	// take longer than the budget alone.
	watchdog := p.budget + 30*time.Minute
	if p.smoke {
		watchdog = 5 * time.Minute
	}
	time.AfterFunc(watchdog, func() { abort(fmt.Sprintf("suite still running after %s: a server hangs? giving up", watchdog), 1) })
	p.dataRoot, p.logDir, p.outFile = tmp, *logs, *out
	p.noWarm = !*warm
	if err := os.MkdirAll(p.logDir, 0o755); err != nil {
		return err
	}
	a := serverSpec{label: sideA, key: "berth", kind: "berth", bin: *berth, store: be}
	var notes []string
	if *berth == "" {
		a = serverSpec{label: sideA, key: "berth", kind: "distribution", bin: *dist, store: be}
		notes = append(notes, "**No Berth binary: the Berth column is a second CNCF Distribution 2.8 (stand-in). Ratios compare the peers with Distribution.**")
	}
	sides := []serverSpec{a, {label: refSide, key: "dist2", kind: "distribution", bin: *dist, store: be}}
	if *dist3 != "" {
		sides = append(sides, serverSpec{label: "Distribution 3", key: "dist3", kind: "distribution", bin: *dist3, store: be})
	}
	if *zot != "" {
		if *store != "fs" {
			notes = append(notes, "zot is left out: the harness runs it on the filesystem only.")
		} else {
			sides = append(sides, serverSpec{label: "zot", key: "zot", kind: "zot", bin: *zot, store: be})
			notes = append(notes, "zot v1.4.3 answers a cross-repository mount without Docker-Content-Digest and a chunk's PATCH with the Range before that chunk; the harness accepts both from zot only (the digest is checked when the upload or the manifest completes).")
		}
	}
	labels := make([]string, len(sides))
	for i, sp := range sides {
		labels[i] = sp.label
		os.Remove(filepath.Join(p.logDir, sp.key+".log"))
	}
	s := &suite{p: p, res: newResults(labels), sides: sides}
	s.res.notes = notes
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
	header := fmt.Sprintf("## Berth vs %s — %s\n\n%s, host %s, %d CPUs; data on %s (%s); medians of %d run(s); manifest runs %s each. Ratios are Berth/peer, the median of the ratios of runs in the same round (paired; the machine is shared and noisy, so only these same-run ratios compare).",
		strings.Join(labels[1:], ", "), mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), hn, numCPU(), root, fsType(root), p.runs, p.dur)
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

// defaultDataRoot is where the data dirs go unless told: on disk, as users
// deploy (/var/tmp, which unlike /tmp is never a tmpfs by convention), or
// $TMPDIR if /var/tmp is missing or in memory.
func defaultDataRoot() string {
	if fsType("/var/tmp") != "tmpfs" {
		return "/var/tmp"
	}
	return os.TempDir()
}

// fsType names the filesystem dir is on (the common ones; else its magic).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "unknown"
	}
	switch uint32(st.Type) {
	case 0x01021994:
		return "tmpfs"
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("fs 0x%x", uint32(st.Type))
}

func storageNote(store, root string) string {
	if store == "gcs" {
		return "Berth stores blobs in one fake-gcs-server (the Google Cloud Storage emulator, started by the harness, on loopback, objects on disk) under a prefix per start, with blob downloads served by Berth (the emulator run has no service-account key to sign URLs), and its metadata in PostgreSQL 15 (a fresh database per start). Distribution 2.8's gcs driver cannot reach an emulator, so Distribution uses filesystem storage: the ratios are not like for like. No auth, logs at warn."
	}
	if store == "azure" {
		return "Berth stores blobs in one Azurite (the Azure Storage emulator, started by the harness, on loopback, data on disk) under a prefix per start, with blob downloads redirected to SAS URLs, and its metadata in PostgreSQL 15 (a fresh database per start). Distribution 2.8's azure driver cannot reach an emulator, so Distribution uses filesystem storage: the ratios are not like for like. No auth, logs at warn."
	}
	if store == "s3" {
		return "Both servers store blobs in one MinIO (started by the harness, on loopback) under a prefix per start, with blob downloads redirected to presigned URLs (both servers' default for S3); Berth's metadata is in PostgreSQL 15 (a fresh database per start). No auth, logs at warn (Distribution's access log off)."
	}
	return fmt.Sprintf("Data dirs under %s; every server uses filesystem storage there, no auth, logs at warn (Distribution's access log off, zot at error).", root)
}
