package main

// Workloads 1 and 2: blob pushes, monolithic and chunked.

import (
	"fmt"
	"sync"
	"time"
)

const mib = 1 << 20

func mibps(bytes int64, d time.Duration) float64 {
	return float64(bytes) / mib / d.Seconds()
}

// pushBig pushes one big blob per seed, all at once (one stream each), with
// POST then a single PUT carrying the whole body. Returns MiB/s over all.
func pushBig(c *client, repo string, seeds []uint64, size int64) (float64, error) {
	for _, s := range seeds {
		bigDigest(s, size) // before timing
	}
	var ec errCounter
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ec.add(c.pushBig(repo, s, size))
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := ec.err(); err != nil {
		return 0, err
	}
	// The blob must now be there with the right size.
	for _, s := range seeds {
		if st, err := c.headBlob(repo, bigDigest(s, size)); err != nil || st != 200 {
			return 0, fmt.Errorf("HEAD after push: status %d, %v", st, err)
		}
	}
	return mibps(size*int64(len(seeds)), el), nil
}

// pushChunks pushes each seed's blob in turn with PATCH requests of chunk
// bytes (Content-Range), then PUT ?digest=. Returns MiB/s.
func pushChunks(c *client, repo string, seeds []uint64, size, chunk int64) (float64, error) {
	for _, s := range seeds {
		bigDigest(s, size)
	}
	start := time.Now()
	for _, s := range seeds {
		if err := c.pushChunked(repo, bigDigest(s, size), s, size, chunk); err != nil {
			return 0, err
		}
	}
	return mibps(size*int64(len(seeds)), time.Since(start)), nil
}
