package main

// Workload 6: catalog and tag-list pages with many repositories / tags.
// Population: one image pushed once to seed/base; every repository
// cat/rNNNNNN gets its config and layer by cross-repository mount (or a
// re-upload if the server does not mount) and the same manifest as :latest;
// tags/many gets tags tNNNNNN, all pointing at that manifest.

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const seedRepo, tagsRepo = "seed/base", "tags/many"

func repoName(i int) string { return fmt.Sprintf("cat/r%06d", i) }
func tagName(i int) string  { return fmt.Sprintf("t%06d", i) }

func setupSeed(c *client) (*image, error) {
	im := makeImage(900002, 1, 512)
	for i, d := range im.digests {
		if err := c.ensureBlob(seedRepo, im.blobs[i], d); err != nil {
			return nil, err
		}
	}
	return im, c.putManifest(seedRepo, "latest", im.manifest, im.mdigest)
}

// populate creates repositories (tags=false) or tags (tags=true) with
// indices [from, to) using conc workers, stopping early at deadline. Indices
// are handed out in order and every one handed out is finished, so the
// result is always [0, reached).
func populate(c *client, im *image, tags bool, from, to, conc int, deadline time.Time) (int, error) {
	var ec errCounter
	var wg sync.WaitGroup
	var next atomic.Int64
	next.Store(int64(from))
	var stop atomic.Bool
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if time.Now().After(deadline) {
					stop.Store(true)
					return
				}
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				var err error
				if tags {
					err = c.putManifest(tagsRepo, tagName(i), im.manifest, im.mdigest)
				} else {
					repo := repoName(i)
					for j, d := range im.digests {
						if err = c.mountBlob(repo, seedRepo, d, im.blobs[j]); err != nil {
							break
						}
					}
					if err == nil {
						err = c.putManifest(repo, "latest", im.manifest, im.mdigest)
					}
				}
				if err != nil {
					ec.add(err)
					stop.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return min(int(next.Load()), to), ec.err()
}

// getPage fetches one page of path (/v2/_catalog or /v2/<repo>/tags/list)
// and returns its entries.
func (c *client) getPage(path string, n int, last string) ([]string, error) {
	q := fmt.Sprintf("?n=%d", n)
	if last != "" {
		q += "&last=" + url.QueryEscape(last)
	}
	resp, err := c.req("GET", path+q, nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, check(resp, 200)
	}
	var body struct {
		Repositories []string `json:"repositories"`
		Tags         []string `json:"tags"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET %s%s: %v", path, q, err)
	}
	if body.Tags != nil {
		return body.Tags, nil
	}
	return body.Repositories, nil
}

// pageReq is one page to time: GET path?n=&last= on c, whose entries must
// be want, or, if all is not nil, all of all in any order (Distribution 2.8
// ignores n and last on tag lists, zot 1.4 on the catalog).
type pageReq struct {
	c          *client
	path, last string
	want, all  []string
}

// pageTimes times each of reqs up to reps times, taking turns (one request
// of each per round, so drift of a shared machine hits all alike), checks
// every answer, and returns each one's median in ms; unpaginated[i] is true
// when an answer to reqs[i] was a whole list (see pageReq).
func pageTimes(reqs []pageReq, n, reps int) (ms []float64, unpaginated []bool, err error) {
	ts := make([][]float64, len(reqs))
	unpaginated = make([]bool, len(reqs))
	done := make([]bool, len(reqs))
	start := time.Now()
	for r := 0; r <= reps; r++ { // round 0 warms each page up, untimed
		for i, q := range reqs {
			if done[i] {
				continue
			}
			t0 := time.Now()
			got, err := q.c.getPage(q.path, n, q.last)
			d := time.Since(t0)
			if err != nil {
				return nil, nil, err
			}
			if !slices.Equal(got, q.want) {
				if q.all == nil || len(got) != len(q.all) || !slices.Equal(slices.Sorted(slices.Values(got)), q.all) {
					return nil, nil, fmt.Errorf("GET %s?n=%d&last=%s: got %d entries %.60q..., want %d entries %.60q...",
						q.path, n, q.last, len(got), fmt.Sprint(got), len(q.want), fmt.Sprint(q.want))
				}
				unpaginated[i] = true
			}
			if r == 0 {
				continue
			}
			ts[i] = append(ts[i], float64(d)/1e6)
			// Enough samples of a slow page: do not spend the budget here.
			if d > 10*time.Second || len(ts[i]) >= 3 && time.Since(start) > time.Duration(len(reqs))*5*time.Second {
				done[i] = true
			}
		}
	}
	ms = make([]float64, len(reqs))
	for i := range ts {
		ms[i] = median(ts[i])
	}
	return ms, unpaginated, nil
}

// catalogSide is one server's catalog to time: c's registry holds
// cat/r[0,repos), seed/base and tags/many, whose tag list is t[0,tags).
type catalogSide struct {
	c           *client
	repos, tags int
}

// catalogPages times the first and a middle page of the catalog and of
// tags/many's tag list on each side, in turns, and returns for each side
// the ms of: catalog first, catalog middle, tags first, tags middle; and
// whether each came unpaginated (accepted only if lenient: from peers).
func catalogPages(sides []catalogSide, n, reps int, lenient bool) ([][4]float64, [][4]bool, error) {
	page := func(l []string, after int) []string {
		return l[after+1 : min(len(l), after+1+n)]
	}
	var reqs []pageReq
	for _, sd := range sides {
		all := make([]string, 0, sd.repos+2)
		for i := range sd.repos {
			all = append(all, repoName(i))
		}
		all = append(all, seedRepo, tagsRepo)
		slices.Sort(all)
		tl := make([]string, sd.tags)
		for i := range tl {
			tl[i] = tagName(i)
		}
		var allRepos, allTags []string
		if lenient {
			allRepos, allTags = all, tl
		}
		mid, tmid := len(all)/2, len(tl)/2
		tagsPath := "/v2/" + tagsRepo + "/tags/list"
		reqs = append(reqs,
			pageReq{c: sd.c, path: "/v2/_catalog", want: all[:min(n, len(all))], all: allRepos},
			pageReq{c: sd.c, path: "/v2/_catalog", last: all[mid], want: page(all, mid), all: allRepos},
			pageReq{c: sd.c, path: tagsPath, want: tl[:min(n, len(tl))], all: allTags},
			pageReq{c: sd.c, path: tagsPath, last: tl[tmid], want: page(tl, tmid), all: allTags})
	}
	ms, unp, err := pageTimes(reqs, n, reps)
	if err != nil {
		return nil, nil, err
	}
	out := make([][4]float64, len(sides))
	whole := make([][4]bool, len(sides))
	for i := range out {
		copy(out[i][:], ms[4*i:])
		copy(whole[i][:], unp[4*i:])
	}
	return out, whole, nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
