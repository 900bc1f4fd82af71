package main

// The soak run (make soak): one Berth (or two on PostgreSQL + MinIO) under
// mixed load from many clients for a long time, sampled at intervals:
// throughput, latency, memory, file descriptors, goroutines, errors.

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

// Operations of the soak mix, with their share of a client's requests.
var soakOps = []struct {
	name   string
	weight int
}{{"push", 20}, {"pull", 55}, {"tags", 15}, {"delete", 10}}

const (
	soakBaseLayers = 4        // layers shared by every client's images
	soakLayerSize  = 64 << 10 // each image: one shared and one own layer
	soakMinLive    = 3        // a client deletes only while it has more images
)

// soakStats collects what the clients did in the current interval.
type soakStats struct {
	mu     sync.Mutex
	lat    map[string][]float64 // ms, per operation
	errs   []string
	nerr   int
	total  map[string]int
	allLat map[string][]float64
	// retries: pushes that met a GC race and succeeded when retried.
	retries    int
	retryFirst []string
}

func (s *soakStats) retry(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retries++
	if len(s.retryFirst) < 3 {
		s.retryFirst = append(s.retryFirst, err.Error())
	}
}

func newSoakStats() *soakStats {
	return &soakStats{lat: map[string][]float64{}, total: map[string]int{}, allLat: map[string][]float64{}}
}

func (s *soakStats) record(op string, d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.nerr++
		if len(s.errs) < 10 {
			s.errs = append(s.errs, op+": "+err.Error())
		}
		return
	}
	ms := float64(d) / 1e6
	s.lat[op] = append(s.lat[op], ms)
	s.total[op]++
}

// take returns and resets the interval's latencies.
func (s *soakStats) take() map[string][]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lat
	s.lat = map[string][]float64{}
	for op, v := range l {
		// Keep a bounded sample of the whole run for the overall p99.
		if len(s.allLat[op]) < 2_000_000 {
			s.allLat[op] = append(s.allLat[op], v...)
		}
	}
	return l
}

// soakImage is an image a client pushed and has not deleted.
type soakImage struct {
	tag string
	im  *image
}

// soakClient is one of the clients: it works in its own repository (so its
// expectations hold whatever the others do) on images that share a few
// base layers with every other client's (so GC meets shared content).
type soakClient struct {
	c     *client
	repo  string
	rng   *rand.Rand
	next  int
	live  []soakImage
	bases []*image
	stats *soakStats
}

// newSoakImage builds an image with one base layer and one layer of its own.
func (sc *soakClient) newSoakImage(seed uint64) *image {
	base := sc.bases[sc.rng.IntN(len(sc.bases))]
	own, od := smallBlob(seed, soakLayerSize)
	im := &image{}
	layers := [][]byte{base.blobs[1], own}
	dgs := []digest.Digest{base.digests[1], od}
	var diffIDs, descs []string
	for i, b := range layers {
		diffIDs = append(diffIDs, fmt.Sprintf("%q", dgs[i].String()))
		descs = append(descs, fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, mtLayer, dgs[i], len(b)))
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","config":{"Labels":{"soak.seed":"%d"}},"rootfs":{"type":"layers","diff_ids":[%s]}}`,
		seed, strings.Join(diffIDs, ",")))
	cd := digest.FromBytes(cfg)
	im.blobs = append([][]byte{cfg}, layers...)
	im.digests = append([]digest.Digest{cd}, dgs...)
	im.manifest = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[%s]}`,
		mtManifest, mtConfig, cd, len(cfg), strings.Join(descs, ",")))
	im.mdigest = digest.FromBytes(im.manifest)
	return im
}

// push pushes a new image as clients do: HEAD each blob, upload the
// missing ones, PUT the manifest. GC may collect a repository's old link
// to a shared blob between the HEAD (which found it) and the manifest PUT,
// which then fails with MANIFEST_BLOB_UNKNOWN; or an upload may meet a
// blob GC is deleting (503). Clients push the blob again and retry, and so
// does this one, once, counting a retry (docs/gc.md: why nothing in use is
// deleted).
func (sc *soakClient) push(id int) error {
	sc.next++
	im := sc.newSoakImage(uint64(1_000_000*(id+1) + sc.next))
	tag := fmt.Sprintf("v%d", sc.next)
	err := sc.pushOnce(im, tag, false)
	if retryable(err) {
		sc.stats.retry(err)
		err = sc.pushOnce(im, tag, true)
	}
	if err != nil {
		return err
	}
	sc.live = append(sc.live, soakImage{tag, im})
	return nil
}

func (sc *soakClient) pushOnce(im *image, tag string, force bool) error {
	for i, d := range im.digests {
		var err error
		if force {
			err = sc.c.pushBlob(sc.repo, d, bytes.NewReader(im.blobs[i]), int64(len(im.blobs[i])))
		} else {
			err = sc.c.ensureBlob(sc.repo, im.blobs[i], d)
		}
		if err != nil {
			return err
		}
	}
	return sc.c.putManifest(sc.repo, tag, im.manifest, im.mdigest)
}

// retryable: the answers docs/gc.md tells clients to retry.
func retryable(err error) bool {
	var se *statusError
	if !errors.As(err, &se) {
		return false
	}
	return se.got == 503 || se.got == 400 && strings.Contains(se.body, "MANIFEST_BLOB_UNKNOWN")
}

func (sc *soakClient) pull() error {
	if len(sc.live) == 0 {
		return nil
	}
	li := sc.live[sc.rng.IntN(len(sc.live))]
	resp, err := sc.c.req("GET", "/v2/"+sc.repo+"/manifests/"+li.tag, nil, 0)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return check(resp, 200)
	}
	resp.Body.Close()
	if !bytes.Equal(body, li.im.manifest) {
		return fmt.Errorf("GET manifest %s:%s: wrong content", sc.repo, li.tag)
	}
	for i, d := range li.im.digests {
		h := sha256.New()
		if err := sc.c.pullOne(sc.repo, d, int64(len(li.im.blobs[i])), h, make([]byte, 32<<10)); err != nil {
			return err
		}
		if got := digest.NewDigest(digest.SHA256, h); got != d {
			return fmt.Errorf("GET blob %s: content hashes to %s", d, got)
		}
	}
	return nil
}

func (sc *soakClient) tags() error {
	resp, err := sc.c.req("GET", "/v2/"+sc.repo+"/tags/list?n=10000", nil, 0)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return check(resp, 200)
	}
	defer resp.Body.Close()
	var tl struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tl); err != nil {
		return err
	}
	want := make([]string, len(sc.live))
	for i, l := range sc.live {
		want[i] = l.tag
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(tl.Tags))
	if !slices.Equal(got, want) {
		return fmt.Errorf("tag list of %s: %d tags, want %d", sc.repo, len(got), len(want))
	}
	return nil
}

func (sc *soakClient) delete() error {
	if len(sc.live) <= soakMinLive {
		return nil
	}
	i := sc.rng.IntN(len(sc.live))
	li := sc.live[i]
	resp, err := sc.c.req("DELETE", "/v2/"+sc.repo+"/manifests/"+li.im.mdigest.String(), nil, 0)
	if err != nil {
		return err
	}
	if err := check(resp, 202); err != nil {
		return err
	}
	sc.live = slices.Delete(sc.live, i, i+1)
	return nil
}

// soakLoad runs clients until stop is closed; each picks operations by
// weight. urls are the instances, shared out among the clients.
func soakLoad(urls []string, clients int, bases []*image, stats *soakStats, stop <-chan struct{}, ops *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	total := 0
	for _, o := range soakOps {
		total += o.weight
	}
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := &soakClient{c: newClient(urls[id%len(urls)], 1), repo: fmt.Sprintf("soak/c%02d", id),
				rng: rand.New(rand.NewPCG(uint64(id), 7)), bases: bases, stats: stats}
			defer sc.c.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				op := "push"
				if len(sc.live) >= soakMinLive {
					n := sc.rng.IntN(total)
					for _, o := range soakOps {
						if n < o.weight {
							op = o.name
							break
						}
						n -= o.weight
					}
				}
				t0 := time.Now()
				var err error
				switch op {
				case "push":
					err = sc.push(id)
				case "pull":
					err = sc.pull()
				case "tags":
					err = sc.tags()
				case "delete":
					err = sc.delete()
				}
				stats.record(op, time.Since(t0), err)
				ops.Add(1)
			}
		}()
	}
	return &wg
}
