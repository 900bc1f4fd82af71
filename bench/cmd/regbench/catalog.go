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

// pageTime times GET of the page after last (first page if last is "")
// reps times, checks its entries against want, and returns the median in ms.
// If all is not nil, a response holding all of it in any order is accepted
// too (unpaginated is then true): Distribution 2.8 ignores n and last on tag
// lists.
func pageTime(c *client, path string, n int, last string, want, all []string, reps int) (ms float64, unpaginated bool, err error) {
	var ts []float64
	start := time.Now()
	for range reps {
		if len(ts) >= 3 && time.Since(start) > 5*time.Second {
			break // enough samples of a slow page
		}
		t0 := time.Now()
		got, err := c.getPage(path, n, last)
		d := time.Since(t0)
		if err != nil {
			return 0, false, err
		}
		if !slices.Equal(got, want) {
			if all == nil || len(got) != len(all) || !slices.Equal(slices.Sorted(slices.Values(got)), all) {
				return 0, false, fmt.Errorf("GET %s?n=%d&last=%s: got %d entries %.60q..., want %d entries %.60q...",
					path, n, last, len(got), fmt.Sprint(got), len(want), fmt.Sprint(want))
			}
			unpaginated = true
		}
		ts = append(ts, float64(d)/1e6)
		if d > 10*time.Second {
			break // slow enough; do not spend the time budget here
		}
	}
	return median(ts), unpaginated, nil
}

// catalogPages measures the first and a middle page of the catalog (which
// holds cat/r[0,repos), seed/base and tags/many) and of tags/many's tag list
// (tags t[0,tags)). Returns ms for: catalog first, catalog middle, tags
// first, tags middle, and whether the tag list came unpaginated (accepted
// only if lenientTags).
func catalogPages(c *client, repos, tags, n, reps int, lenientTags bool) ([4]float64, bool, error) {
	var out [4]float64
	all := make([]string, 0, repos+2)
	for i := range repos {
		all = append(all, repoName(i))
	}
	all = append(all, seedRepo, tagsRepo)
	slices.Sort(all)
	tl := make([]string, tags)
	for i := range tl {
		tl[i] = tagName(i)
	}
	var allTags []string
	if lenientTags {
		allTags = tl
	}
	page := func(l []string, after int) []string {
		return l[after+1 : min(len(l), after+1+n)]
	}
	var err error
	var u1, u2 bool
	if out[0], _, err = pageTime(c, "/v2/_catalog", n, "", all[:min(n, len(all))], nil, reps); err != nil {
		return out, false, err
	}
	mid := len(all) / 2
	if out[1], _, err = pageTime(c, "/v2/_catalog", n, all[mid], page(all, mid), nil, reps); err != nil {
		return out, false, err
	}
	if out[2], u1, err = pageTime(c, "/v2/"+tagsRepo+"/tags/list", n, "", tl[:min(n, len(tl))], allTags, reps); err != nil {
		return out, false, err
	}
	mid = len(tl) / 2
	out[3], u2, err = pageTime(c, "/v2/"+tagsRepo+"/tags/list", n, tl[mid], page(tl, mid), allTags, reps)
	return out, u1 || u2, err
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
