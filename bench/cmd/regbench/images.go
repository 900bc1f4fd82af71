package main

// Workload 4: push many small images the way a client does: HEAD each blob
// (404), POST + PUT it, HEAD the manifest (404), PUT the manifest.

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// makeImages builds n distinct images (config + 3 layers of layerSize) before
// timing. base keeps the images of different runs apart.
func makeImages(base uint64, n, layerSize int) []*image {
	ims := make([]*image, n)
	for i := range ims {
		ims[i] = makeImage(base+uint64(i), 3, layerSize)
	}
	return ims
}

func (c *client) pushImage(repo, tag string, im *image) error {
	for i, d := range im.digests {
		st, err := c.headBlob(repo, d)
		if err != nil {
			return err
		}
		if st != 404 {
			return fmt.Errorf("HEAD blob %s in %s: status %d, want 404 (new blob)", d, repo, st)
		}
		if err := c.pushBlob(repo, d, bytes.NewReader(im.blobs[i]), int64(len(im.blobs[i]))); err != nil {
			return err
		}
	}
	st, err := c.headManifest(repo, tag)
	if err != nil {
		return err
	}
	if st != 404 {
		return fmt.Errorf("HEAD manifest %s:%s: status %d, want 404", repo, tag, st)
	}
	return c.putManifest(repo, tag, im.manifest, im.mdigest)
}

// pushImages pushes the images with the given number of clients (each its
// own connection pool). Image i goes to <prefix>/app<i%20>:v<i>. Returns
// images/s.
func pushImages(base string, prefix string, ims []*image, clients int) (float64, error) {
	var ec errCounter
	var wg sync.WaitGroup
	var next atomic.Int64
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = newClient(base, 1)
		defer cs[i].close()
	}
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(ims)) {
					return
				}
				repo := fmt.Sprintf("%s/app%d", prefix, i%20)
				if err := c.pushImage(repo, fmt.Sprintf("v%d", i), ims[i]); err != nil {
					ec.add(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	if err := ec.err(); err != nil {
		return 0, err
	}
	// Spot check: the last image's manifest is there under its tag.
	last := len(ims) - 1
	repo := fmt.Sprintf("%s/app%d", prefix, last%20)
	if st, err := cs[0].headManifest(repo, fmt.Sprintf("v%d", last)); err != nil || st != 200 {
		return 0, fmt.Errorf("HEAD manifest after push: status %d, %v", st, err)
	}
	return float64(len(ims)) / el.Seconds(), nil
}
