package main

// Workloads 6 and 7 in the suite: catalog and tag-list pages with a small and
// a large number of repositories, populate time, and cold starts with the
// small catalog's data dir. The pages of both sizes are timed in turns, on
// two servers at once: one on a copy of the small catalog's data dir, one
// populated on to the large catalog.

import (
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

var pageNames = []string{"catalog, first page", "catalog, middle page", "tag list, first page", "tag list, middle page"}

func (s *suite) catalog(spec serverSpec) {
	p, side := s.p, spec.label
	dir := s.dir("catalog-" + spec.key)
	defer os.RemoveAll(dir)
	srv, err := s.start(spec, dir)
	if err != nil {
		s.fail(side, "start", err)
		return
	}
	s.logf("catalog: %s, populating %d repositories and %d tags", side, p.catSmall, p.catSmall)
	c := newClient(srv.url, p.popConc)
	c.zot = spec.kind == "zot"
	im, err := setupSeed(c)
	for j, d := range im.digests {
		if err == nil {
			err = c.mountBlob(tagsRepo, seedRepo, d, im.blobs[j])
		}
	}
	if err != nil {
		s.fail(side, "catalog setup", err)
		srv.stop()
		return
	}
	far := time.Now().Add(time.Hour)
	m := sampleMem(srv.pid())
	t0 := time.Now()
	nr, nt, err := s.populateBoth(c, im, p.catSmall, far)
	nrSmall := nr
	s.res.add("Catalog", "populate small (repos + tags)", "s", side, time.Since(t0).Seconds())
	s.res.add("Memory", "VmRSS peak, catalog small", "MiB", side, m.done())
	c.close()
	srv.stop()
	if err != nil {
		s.fail(side, "catalog small", err)
		return
	}

	for i := range p.starts {
		srv, err = s.start(spec, dir)
		if err != nil {
			s.fail(side, "start with the small catalog", err)
			return
		}
		s.res.add("Start", "start to ready, small catalog data dir", "ms", side, ms(srv.ready))
		if i == 0 {
			time.Sleep(300 * time.Millisecond)
			if rss, _, err := procMem(srv.pid()); err == nil {
				s.res.add("Memory", "VmRSS idle (small catalog)", "MiB", side, rss)
			}
		}
		srv.stop()
	}

	small := dir + "-small"
	defer os.RemoveAll(small)
	if out, err := exec.Command("cp", "-a", dir, small).CombinedOutput(); err != nil {
		s.fail(side, "copy the small catalog", fmt.Errorf("%v: %s", err, out))
		return
	}
	smallSrv, err := s.start(spec, small)
	if err != nil {
		s.fail(side, "start on the small catalog's copy", err)
		return
	}
	defer smallSrv.stop()
	cs := newClient(smallSrv.url, 1)
	defer cs.close()
	srv, err = s.start(spec, dir)
	if err != nil {
		s.fail(side, "restart for the large catalog", err)
		return
	}
	defer srv.stop()
	c = newClient(srv.url, p.popConc)
	c.zot = spec.kind == "zot"
	defer c.close()
	limit := p.popCap
	if spec.kind == "berth" {
		limit = p.popCapBerth
	}
	s.logf("catalog: %s, populating up to %d repositories (cap %s)", side, p.catLarge, limit)
	m = sampleMem(srv.pid())
	t0 = time.Now()
	nr, err = populate(c, im, false, p.catSmall, p.catLarge, p.popConc, time.Now().Add(limit))
	el := time.Since(t0).Seconds()
	const popName = "populate small → large (repos)"
	s.res.add("Catalog", popName, "s", side, el)
	s.res.add("Catalog", "populate rate, small → large", "repos/s", side, float64(nr-p.catSmall)/el)
	if err == nil {
		s.logf("catalog: %s has %d repositories after %.0f s", side, nr, el)
		if nr < p.catLarge {
			s.res.annotate("Catalog", popName, "s", side, fmt.Sprintf("(capped: %d repos)", nr))
			s.res.notes = append(s.res.notes, fmt.Sprintf("%s: population stopped at the %.0f s cap with %d repositories; its large-catalog pages are measured at that size.",
				side, limit.Seconds(), nr))
		}
		err = s.pages(spec, []catalogSide{{cs, nrSmall, nt}, {c, nr, nt}})
	}
	s.res.add("Memory", "VmRSS peak, catalog large", "MiB", side, m.done())
	if err != nil {
		s.fail(side, "catalog pages", err)
	}
}

// populateBoth fills repositories and tags [0, n) side by side, three
// quarters of the workers on repositories (3 requests each) and the rest on
// tags (1 request each), until deadline.
func (s *suite) populateBoth(c *client, im *image, n int, deadline time.Time) (int, int, error) {
	var wg sync.WaitGroup
	var nr, nt int
	var er, et error
	rc := max(1, s.p.popConc*3/4)
	wg.Add(2)
	go func() { defer wg.Done(); nr, er = populate(c, im, false, 0, n, rc, deadline) }()
	go func() { defer wg.Done(); nt, et = populate(c, im, true, 0, n, max(1, s.p.popConc-rc), deadline) }()
	wg.Wait()
	if er != nil {
		return nr, nt, er
	}
	return nr, nt, et
}

// pages times the pages of the small and the large catalog (sides, in that
// order) in turns and records them.
func (s *suite) pages(spec serverSpec, sides []catalogSide) error {
	v, whole, err := catalogPages(sides, s.p.pageN, s.p.pageReps, spec.kind != "berth")
	if err != nil {
		return err
	}
	var tags, cat bool
	for j, size := range []string{"small", "large"} {
		for i, n := range pageNames {
			name := fmt.Sprintf("%s (%s)", n, size)
			s.res.add("Catalog", name, "ms", spec.label, v[j][i])
			if whole[j][i] {
				s.res.annotate("Catalog", name, "ms", spec.label, "(unpaginated)")
				tags, cat = tags || i >= 2, cat || i < 2
			}
		}
	}
	if tags {
		s.res.notes = append(s.res.notes, fmt.Sprintf("%s ignores n and last on the tag list: it returned all %d tags (unsorted) for every page; times marked (unpaginated) are for the whole list.", spec.label, sides[0].tags))
	}
	if cat {
		s.res.notes = append(s.res.notes, fmt.Sprintf("%s ignores n and last on the catalog: it returned every repository for every page; times marked (unpaginated) are for the whole catalog.", spec.label))
	}
	return nil
}
