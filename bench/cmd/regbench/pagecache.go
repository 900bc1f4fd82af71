package main

// The page cache on a VM that returns free memory to its host.
//
// This project's machines are Firecracker VMs booted with free page
// reporting (page_reporting.page_reporting_order on the kernel command
// line): about two seconds after memory is freed, the guest reports it to
// the host, which takes it back. Writing into such memory again (a push
// filling the page cache) faults it back in from the host, ~10× slower
// than writing into memory freed a moment ago: docs/performance.md, "Pushes
// on this VM's disk", measured 0.46–0.50 GB/s against 4.9–5.2 GB/s with dd.
// Which server gets which kind of memory then depends on what ran before
// it, not on the server. The suite therefore warms the page cache before
// every push workload: it writes as many bytes as the workload will and
// deletes them, so every server's pushes start on memory freed a moment
// ago; pageCacheRates measures both kinds for the machine-limits table.

import (
	"os"
	"time"
)

// warmPageCache writes size bytes to a scratch file in dir (page cache
// only, no fsync) and removes it, freeing the pages it took.
func warmPageCache(dir string, size int64) error {
	_, err := writeScratch(dir, size, false)
	return err
}

// writeScratch writes size bytes of table data to a new file in dir in
// 1 MiB writes, then fsyncs it if sync, and removes it; it returns the
// time the writes (and the fsync) took.
func writeScratch(dir string, size int64, sync bool) (time.Duration, error) {
	f, err := os.CreateTemp(dir, "page-cache-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	t := genTable()
	start := time.Now()
	for n := int64(0); n < size; {
		b := t[:min(int64(1<<20), size-n)]
		if _, err := f.Write(b); err != nil {
			return 0, err
		}
		n += int64(len(b))
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// pageCacheRates measures buffered writes of size bytes into the page
// cache (MiB/s): hot right after as many bytes were written and freed,
// cold after the machine sat idle for idle with that memory free.
func pageCacheRates(dir string, size int64, idle time.Duration) (hot, cold float64, err error) {
	if err := warmPageCache(dir, size); err != nil {
		return 0, 0, err
	}
	d, err := writeScratch(dir, size, false)
	if err != nil {
		return 0, 0, err
	}
	hot = mibps(size, d)
	time.Sleep(idle)
	if d, err = writeScratch(dir, size, false); err != nil {
		return 0, 0, err
	}
	return hot, mibps(size, d), nil
}
