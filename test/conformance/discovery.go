package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"testing"
)

// testDiscovery covers "Content Discovery": listing tags (end-8a, end-8b)
// and the Docker Registry API's catalog, with n/last pagination and the
// RFC 8288 Link header.
func testDiscovery(t *testing.T, s *suite) {
	// Lowercase and digits only, so ASCII order and case-insensitive
	// order agree; pushed deliberately out of order.
	pushOrder := []string{"v10", "latest", "alpha", "v2", "0.1", "beta", "v1"}
	sorted := slices.Clone(pushOrder)
	slices.Sort(sorted)

	tagRepo := func(t *testing.T) string {
		repo := s.repo(t, "")
		im := newImage()
		s.pushChildrenAndBlobs(t, repo, im)
		for _, tag := range pushOrder {
			wantStatus(t, s.putManifest(t, repo, tag, im.content), http.StatusCreated)
		}
		return repo
	}

	t.Run("tags-list-sorted", func(t *testing.T) {
		t.Parallel()
		repo := tagRepo(t)
		r := s.do(t, "GET", "/v2/"+repo+"/tags/list", nil, nil)
		wantStatus(t, r, http.StatusOK)
		var body struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(r.Body, &body)
		if body.Name != repo {
			t.Errorf(`want "name": %q\n%s`, repo, r)
		}
		if got := decodeTags(t, r); !slices.Equal(got, sorted) {
			t.Errorf("want tags %q (lexical order), got %q\n%s", sorted, got, r)
		}
	})

	t.Run("tags-list-pagination", func(t *testing.T) {
		t.Parallel()
		repo := tagRepo(t)
		// First page: exactly n tags, since more exist (a registry may only
		// return fewer when it sends a Link header).
		r := s.do(t, "GET", "/v2/"+repo+"/tags/list?n=3", nil, nil)
		wantStatus(t, r, http.StatusOK)
		got := decodeTags(t, r)
		if len(got) < 3 && r.Header.Get("Link") == "" {
			t.Errorf("n=3 returned %d tags and no Link header\n%s", len(got), r)
		}
		if !slices.Equal(got, sorted[:len(got)]) {
			t.Errorf("n=3: want the first tags of %q, got %q\n%s", sorted, got, r)
		}
		// Following Link headers yields every tag once, in order.
		all := s.walk(t, r, decodeTags)
		if !slices.Equal(all, sorted) {
			t.Errorf("following Link headers from n=3 gave %q, want %q", all, sorted)
		}
		// last: the tags after the named one.
		r = s.do(t, "GET", "/v2/"+repo+"/tags/list?n=3&last=beta", nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeTags(t, r); !slices.Equal(got, []string{"latest", "v1", "v10"}) {
			t.Errorf("n=3&last=beta: want [latest v1 v10], got %q\n%s", got, r)
		}
		r = s.do(t, "GET", "/v2/"+repo+"/tags/list?n=3&last=v10", nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeTags(t, r); !slices.Equal(got, []string{"v2"}) {
			t.Errorf("n=3&last=v10: want [v2], got %q\n%s", got, r)
		}
		if l := r.Header.Get("Link"); l != "" {
			t.Errorf("last page must not have a Link header, got %q\n%s", l, r)
		}
		r = s.do(t, "GET", "/v2/"+repo+"/tags/list?last=v2", nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeTags(t, r); len(got) != 0 {
			t.Errorf("last=v2 (the last tag): want no tags, got %q\n%s", got, r)
		}
	})

	t.Run("tags-list-n-zero", func(t *testing.T) {
		t.Parallel()
		// "When n is zero, this endpoint MUST return an empty list, and
		// MUST NOT include a Link header."
		repo := tagRepo(t)
		r := s.do(t, "GET", "/v2/"+repo+"/tags/list?n=0", nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeTags(t, r); len(got) != 0 {
			t.Errorf("n=0: want an empty list, got %q\n%s", got, r)
		}
		if l := r.Header.Get("Link"); l != "" {
			t.Errorf("n=0: want no Link header, got %q\n%s", l, r)
		}
	})

	t.Run("tags-list-unknown-repository", func(t *testing.T) {
		t.Parallel()
		r := s.do(t, "GET", "/v2/"+s.repo(t, "never-created")+"/tags/list", nil, nil)
		wantError(t, r, http.StatusNotFound, "NAME_UNKNOWN")
	})

	t.Run("catalog-pagination", func(t *testing.T) {
		t.Parallel()
		var repos []string
		for i := 0; i < 5; i++ {
			repo := s.repo(t, "r"+strconv.Itoa(i))
			s.pushImage(t, repo, "x", newImage(withLayers(1)))
			repos = append(repos, repo)
		}
		// Nothing else of this run sorts between r0 and r4.
		r := s.do(t, "GET", "/v2/_catalog?n=2&last="+url.QueryEscape(repos[0]), nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeRepos(t, r); !slices.Equal(got, repos[1:3]) {
			t.Errorf("n=2&last=<r0>: want %q, got %q\n%s", repos[1:3], got, r)
		}
		next := s.nextLink(t, r)
		if next == nil {
			t.Fatalf("more repositories follow, but there is no Link header\n%s", r)
		}
		r2 := s.doURL(t, "GET", next, nil, nil)
		wantStatus(t, r2, http.StatusOK)
		if got := decodeRepos(t, r2); !slices.Equal(got, repos[3:5]) {
			t.Errorf("following the Link header: want %q, got %q\n%s\n%s", repos[3:5], got, r, r2)
		}

		// A full walk is strictly increasing and holds every repository.
		r = s.do(t, "GET", "/v2/_catalog?n=50", nil, nil)
		wantStatus(t, r, http.StatusOK)
		all := s.walk(t, r, decodeRepos)
		for i := 1; i < len(all); i++ {
			if all[i-1] >= all[i] {
				t.Errorf("catalog is not in strictly increasing lexical order: %q then %q", all[i-1], all[i])
				break
			}
		}
		for _, repo := range repos {
			if !slices.Contains(all, repo) {
				t.Errorf("catalog walk does not include %q", repo)
			}
		}
	})

	t.Run("catalog-n-zero", func(t *testing.T) {
		t.Parallel()
		s.seedRepo(t, s.repo(t, ""))
		r := s.do(t, "GET", "/v2/_catalog?n=0", nil, nil)
		wantStatus(t, r, http.StatusOK)
		if got := decodeRepos(t, r); len(got) != 0 {
			t.Errorf("n=0: want an empty list, got %d entries\n%s", len(got), r)
		}
		if l := r.Header.Get("Link"); l != "" {
			t.Errorf("n=0: want no Link header, got %q\n%s", l, r)
		}
	})
}

var linkRE = regexp.MustCompile(`^<([^>]+)>\s*;\s*rel="?next"?\s*$`)

// nextLink parses an RFC 8288 `Link: <url>; rel="next"` header, resolving
// the URL against the request's; nil when there is none.
func (s *suite) nextLink(t *testing.T, r *response) *url.URL {
	t.Helper()
	l := r.Header.Get("Link")
	if l == "" {
		return nil
	}
	m := linkRE.FindStringSubmatch(l)
	if m == nil {
		t.Fatalf(`Link header is not of the form <url>; rel="next"`+"\n%s", r)
	}
	return s.resolve(r.URL, m[1])
}

// walk follows Link headers from r and returns every entry seen.
func (s *suite) walk(t *testing.T, r *response, decode func(*testing.T, *response) []string) []string {
	t.Helper()
	all := decode(t, r)
	for pages := 0; pages < 10000; pages++ {
		next := s.nextLink(t, r)
		if next == nil {
			return all
		}
		r = s.doURL(t, "GET", next, nil, nil)
		wantStatus(t, r, http.StatusOK)
		all = append(all, decode(t, r)...)
	}
	t.Fatalf("gave up following Link headers after 10000 pages")
	return nil
}

// decodeTags returns the "tags" of a tags/list answer, which must be a JSON
// array (an empty list is [], not null).
func decodeTags(t *testing.T, r *response) []string {
	t.Helper()
	return decodeList(t, r, "tags")
}

func decodeRepos(t *testing.T, r *response) []string {
	t.Helper()
	return decodeList(t, r, "repositories")
}

func decodeList(t *testing.T, r *response, field string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r)
	}
	raw, ok := m[field]
	if !ok || string(raw) == "null" {
		t.Fatalf("want %q to be a JSON array (possibly empty), got %s\n%s", field, raw, r)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("%q is not an array of strings: %v\n%s", field, err, r)
	}
	return list
}
