package metatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// browseTests are the cases of the listing, search and pull statistics
// queries the web UI and the browsing API use.
var browseTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"BrowseRepositories", testBrowseRepositories},
	{"BrowseTagsAndManifests", testBrowseTags},
	{"BrowseSearch", testBrowseSearch},
	{"BrowsePulls", testBrowsePulls},
}

func push(t *testing.T, s meta.Store, repo, body string, tags ...string) digest.Digest {
	t.Helper()
	c := mustPutBlob(t, s, repo, "config of "+repo)
	m := manifest(repo, body, c)
	if err := s.PutManifest(ctx, m, tags); err != nil {
		t.Fatal(err)
	}
	return m.Digest
}

func names(rs []meta.RepositorySummary) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func testBrowseRepositories(t *testing.T, s meta.Store) {
	push(t, s, "team/b", "b1", "v1", "v2")
	time.Sleep(2 * time.Millisecond)
	push(t, s, "team/a", "a1", "latest")
	time.Sleep(2 * time.Millisecond)
	push(t, s, "team/c_x", "c1")
	push(t, s, "team", "t1", "v1") // a one-component name is in its project too
	push(t, s, "teamster/x", "x1", "v1")
	push(t, s, "other/a", "o1", "v1")

	tests := []struct {
		name      string
		q         meta.RepositoryQuery
		want      []string
		wantTotal int64
	}{
		{"project by name", meta.RepositoryQuery{Project: "team", Limit: 10}, []string{"team", "team/a", "team/b", "team/c_x"}, 4},
		{"page", meta.RepositoryQuery{Project: "team", Offset: 1, Limit: 2}, []string{"team/a", "team/b"}, 4},
		{"filter", meta.RepositoryQuery{Project: "team", Filter: "/A", Limit: 10}, []string{"team/a"}, 1},
		{"filter is not a pattern", meta.RepositoryQuery{Filter: "_", Limit: 10}, []string{"team/c_x"}, 1},
		{"all", meta.RepositoryQuery{Filter: "/a", Limit: 10}, []string{"other/a", "team/a"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, total, err := s.ListRepositories(ctx, tc.q)
			if err != nil || !slices.Equal(names(got), tc.want) || total != tc.wantTotal {
				t.Fatalf("ListRepositories(%+v) = %v, %d, %v; want %v, %d", tc.q, names(got), total, err, tc.want, tc.wantTotal)
			}
		})
	}
	got, _, err := s.ListRepositories(ctx, meta.RepositoryQuery{Project: "team", Sort: meta.SortPushed, Limit: 3})
	if err != nil || len(got) != 3 || got[2].Name != "team/a" {
		t.Fatalf("newest first: %v, %v", names(got), err)
	}
	for _, r := range got {
		if r.PushedAt.IsZero() {
			t.Errorf("%s: no push time", r.Name)
		}
		if r.Name == "team/b" && r.Tags != 2 {
			t.Errorf("team/b has %d tags, want 2", r.Tags)
		}
	}
}

func testBrowseTags(t *testing.T, s meta.Store) {
	v1 := push(t, s, "r", "m1", "v1", "latest")
	v2 := push(t, s, "r", "m2", "v2")
	untagged := push(t, s, "r", "m3")
	sig := manifest("r", "signature", mustPutBlob(t, s, "r", "sigconfig"))
	sig.Subject = v1
	if err := s.PutManifest(ctx, sig, nil); err != nil {
		t.Fatal(err)
	}
	tags, total, err := s.TagPage(ctx, "r", meta.TagQuery{Limit: 10})
	if err != nil || total != 3 || len(tags) != 3 || tags[0].Tag != "latest" || tags[0].Digest != v1 || tags[2].Digest != v2 || tags[0].Size != 2 || tags[0].PushedAt.IsZero() {
		t.Fatalf("TagPage = %+v, %d, %v", tags, total, err)
	}
	if tags, total, err := s.TagPage(ctx, "r", meta.TagQuery{Offset: 1, Limit: 1}); err != nil || total != 3 || len(tags) != 1 || tags[0].Tag != "v1" {
		t.Fatalf("TagPage second = %+v, %d, %v", tags, total, err)
	}
	if tags, total, err := s.TagPage(ctx, "r", meta.TagQuery{Sort: meta.TagsByPushed, Limit: 1}); err != nil || total != 3 || tags[0].Tag != "v2" {
		t.Fatalf("TagPage newest = %+v, %d, %v", tags, total, err)
	}
	if tags, total, err := s.TagPage(ctx, "r", meta.TagQuery{Filter: "V", Limit: 10}); err != nil || total != 2 || len(tags) != 2 {
		t.Fatalf("TagPage filtered = %+v, %d, %v", tags, total, err)
	}
	if _, _, err := s.TagPage(ctx, "nope", meta.TagQuery{Limit: 1}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("tags of an unknown repository: %v", err)
	}
	names, err := s.TagNames(ctx, "r", "")
	slices.Sort(names)
	if err != nil || !slices.Equal(names, []string{"latest", "v1", "v2"}) {
		t.Fatalf("TagNames = %v, %v", names, err)
	}
	if names, err := s.TagNames(ctx, "r", "v"); err != nil || len(names) != 2 {
		t.Fatalf("TagNames(v) = %v, %v", names, err)
	}
	named, err := s.TagsNamed(ctx, "r", []string{"v2", "absent"})
	if err != nil || len(named) != 1 || named[0].Digest != v2 {
		t.Fatalf("TagsNamed = %+v, %v", named, err)
	}
	un, err := s.RepositoryManifests(ctx, "r", meta.ManifestsUntagged, 10)
	if err != nil || len(un) != 1 || un[0].Digest != untagged {
		t.Fatalf("untagged = %+v, %v", un, err)
	}
	refs, err := s.RepositoryManifests(ctx, "r", meta.ManifestsReferrers, 10)
	if err != nil || len(refs) != 1 || refs[0].Digest != sig.Digest || refs[0].Subject != v1 {
		t.Fatalf("referrers = %+v, %v", refs, err)
	}
	contents, err := s.ManifestContents(ctx, "r", []digest.Digest{v1, v2, dg("absent")})
	if err != nil || len(contents) != 2 || string(contents[v2]) != "m2" {
		t.Fatalf("ManifestContents = %v, %v", contents, err)
	}
	mt, _, err := s.ManifestTags(ctx, "r", v1)
	if err != nil || !slices.Equal(mt, []string{"latest", "v1"}) {
		t.Fatalf("ManifestTags = %v, %v", mt, err)
	}
}

func testBrowseSearch(t *testing.T, s meta.Store) {
	d := push(t, s, "team/web-app", "w1", "release-1.0")
	push(t, s, "team/db", "d1", "v1")
	repos, err := s.SearchRepositories(ctx, "WEB", 10)
	if err != nil || !slices.Equal(repos, []string{"team/web-app"}) {
		t.Fatalf("SearchRepositories = %v, %v", repos, err)
	}
	hits, err := s.SearchTags(ctx, "release", 10)
	if err != nil || len(hits) != 1 || hits[0].Repository != "team/web-app" || hits[0].Digest != d {
		t.Fatalf("SearchTags = %+v, %v", hits, err)
	}
	ds, err := s.SearchDigests(ctx, d.String()[:15], 10)
	if err != nil || len(ds) != 1 || ds[0].Repository != "team/web-app" || ds[0].Digest != d {
		t.Fatalf("SearchDigests = %+v, %v", ds, err)
	}
	recent, err := s.RecentTags(ctx, 1)
	if err != nil || len(recent) != 1 || recent[0].Repository != "team/db" {
		t.Fatalf("RecentTags = %+v, %v", recent, err)
	}
	if n, err := s.CountRepositories(ctx); err != nil || n != 2 {
		t.Fatalf("CountRepositories = %d, %v", n, err)
	}
}

func testBrowsePulls(t *testing.T, s meta.Store) {
	d := push(t, s, "p/a", "pa", "v1")
	push(t, s, "p/b", "pb", "v1")
	at := time.Unix(1_800_000_000, 0).UTC()
	err := s.RecordPulls(ctx, []meta.Pull{
		{Repository: "p/a", Digest: d, Count: 3, At: at},
		{Repository: "p/gone", Digest: d, Count: 1, At: at}, // ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := s.ListRepositories(ctx, meta.RepositoryQuery{Project: "p", Sort: meta.SortPulls, Limit: 10})
	if err != nil || len(got) != 2 || got[0].Name != "p/a" || got[0].Pulls != 3 || !got[0].PulledAt.Equal(at) || got[1].Pulls != 0 {
		t.Fatalf("by pulls: %+v, %v", got, err)
	}
	tags, _, _ := s.TagPage(ctx, "p/a", meta.TagQuery{Limit: 10})
	if len(tags) != 1 || !tags[0].PulledAt.Equal(at) {
		t.Fatalf("tag pulled at: %+v", tags)
	}
}
