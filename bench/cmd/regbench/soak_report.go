package main

// The soak run's markdown report.

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

func soakReport(samples []soakSample, st *soakStats, store string, instances, clients int, dur, gcEvery, grace time.Duration, root string) string {
	var b strings.Builder
	where := fmt.Sprintf("filesystem under %s (%s) + SQLite", root, fsType(root))
	if store == "s3" {
		where = "MinIO + PostgreSQL (started by the harness)"
	}
	fmt.Fprintf(&b, "## Berth soak run — %s\n\n%d instance(s) on %s; %d clients for %s; GC every %s (grace %s); %s.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), instances, where, clients, dur, gcEvery, grace, soakMixText())
	fmt.Fprintln(&b, "RSS is VmRSS; anon is RssAnon (memory not backed by a file); Go heap is the heap in use, Go the memory the Go runtime holds from the OS (sys − released): anon − Go is memory allocated outside Go (SQLite's caches in modernc.org/libc).")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| t | ops/s | push | pull | tags | delete | p50 ms | p99 ms | RSS MiB | anon MiB | Go heap MiB | Go MiB | fds | goroutines | GC runs | errors |")
	fmt.Fprintln(&b, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	ints := func(v []int) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmt.Sprint(x)
		}
		return strings.Join(s, "/")
	}
	for _, sm := range samples {
		fmt.Fprintf(&b, "| %s | %.0f | %d | %d | %d | %d | %.2f | %.1f | %s | %s | %s | %s | %s | %s | %s | %d |\n",
			sm.t.Round(time.Second), sm.rate, sm.ops["push"], sm.ops["pull"], sm.ops["tags"], sm.ops["delete"],
			sm.p50, sm.p99, fmtList(sm.rss), fmtList(sm.anon), fmtList(sm.heap), fmtList(sm.goMem), ints(sm.fds), ints(sm.goroutines), ints(sm.gcs), sm.errs)
	}
	fmt.Fprintln(&b, "\nWhole run, per operation (a pull is the manifest by tag and every blob, each checked; a push is HEAD + upload of each new blob and the manifest):")
	fmt.Fprintln(&b, "\n| operation | count | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
	st.mu.Lock()
	ops := make([]string, 0, len(st.allLat))
	for op := range st.allLat {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		v := st.allLat[op]
		fmt.Fprintf(&b, "| %s | %d | %.2f | %.1f |\n", op, st.total[op], percentile(v, 50), percentile(v, 99))
	}
	nerr, errs := st.nerr, slices.Clone(st.errs)
	retries, rfirst := st.retries, slices.Clone(st.retryFirst)
	st.mu.Unlock()
	if n := len(samples); n >= 4 {
		// Growth after warm-up: the first quarter is warm-up.
		w := samples[n/4]
		e := samples[n-1]
		for i := range e.rss {
			var peakFD, peakG int
			var peakRSS float64
			for _, sm := range samples[n/4:] {
				peakRSS = max(peakRSS, sm.rss[i])
				peakFD = max(peakFD, sm.fds[i])
				peakG = max(peakG, sm.goroutines[i])
			}
			fmt.Fprintf(&b, "\nInstance %d after warm-up (from t=%s): RSS %.1f → %.1f MiB (peak %.1f; anon %.1f → %.1f, Go heap %.1f → %.1f, Go %.1f → %.1f), fds %d → %d (peak %d), goroutines %d → %d (peak %d).\n",
				i+1, w.t.Round(time.Second), w.rss[i], e.rss[i], peakRSS, w.anon[i], e.anon[i], w.heap[i], e.heap[i], w.goMem[i], e.goMem[i],
				w.fds[i], e.fds[i], peakFD, w.goroutines[i], e.goroutines[i], peakG)
		}
	}
	fmt.Fprintf(&b, "\nPushes retried after a GC race (MANIFEST_BLOB_UNKNOWN or 503, as docs/gc.md tells clients to; each retry succeeded or counts as an error): %d.\n", retries)
	for _, e := range rfirst {
		fmt.Fprintf(&b, "- %.300s\n", e)
	}
	fmt.Fprintf(&b, "\nErrors: %d.\n", nerr)
	for _, e := range errs {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	return b.String()
}

func soakMixText() string {
	parts := make([]string, len(soakOps))
	total := 0
	for _, o := range soakOps {
		total += o.weight
	}
	for i, o := range soakOps {
		parts[i] = fmt.Sprintf("%s %d%%", o.name, 100*o.weight/total)
	}
	return "mix " + strings.Join(parts, ", ") + fmt.Sprintf(" (each client in its own repository; images of one shared and one own %d KiB layer)", soakLayerSize>>10)
}
