package policy

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func daysAgo(d float64) time.Time { return now.Add(-time.Duration(d * 24 * float64(time.Hour))) }

// tagsAt builds tags pushed the given days ago, each on its own manifest.
func tagsAt(spec map[string]float64) []meta.TagDetail {
	var out []meta.TagDetail
	for name, d := range spec {
		out = append(out, meta.TagDetail{Name: name, Digest: digest.FromString(name), PushedAt: daysAgo(d)})
	}
	slices.SortFunc(out, func(a, b meta.TagDetail) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func mustPolicy(t *testing.T, rules ...Rule) *RetentionPolicy {
	t.Helper()
	p := &RetentionPolicy{Rules: rules}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRetentionRules: each rule kind alone and combined, scoping by
// repository and tag patterns, untagged manifests and immutable tags.
func TestRetentionRules(t *testing.T) {
	tags := tagsAt(map[string]float64{"v1": 40, "v2": 20, "v3": 3, "latest": 1, "dev-a": 10, "dev-b": 2, "v4-rc1": 0.5})
	untagged := []meta.UntaggedManifest{
		{Digest: digest.FromString("old"), PushedAt: daysAgo(5)},
		{Digest: digest.FromString("fresh"), PushedAt: now.Add(-10 * time.Minute)},
	}
	immutable := &TagRules{repo: "p/app", rules: []tagRule{{meta.ImmutableRule{ID: 7, Repositories: "**", Tags: "v1"}, MustPattern("v1")}}}
	tests := []struct {
		name      string
		repo      string
		rules     []Rule
		immutable *TagRules
		keep      []string // tags kept; nil with untouched: the repository is not selected
		untouched bool
		untagged  []string // untagged manifests kept ("old", "fresh")
	}{
		{name: "latest pushed", rules: []Rule{{Keep: KeepLatestPushed, Count: 2}},
			keep: []string{"latest", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "latest pushed among matching tags", rules: []Rule{{Keep: KeepLatestPushed, Count: 1, Tags: "dev-*"}},
			keep: []string{"dev-b"}, untagged: []string{"fresh"}},
		{name: "latest pushed, count above the tags", rules: []Rule{{Keep: KeepLatestPushed, Count: 100}},
			keep: []string{"dev-a", "dev-b", "latest", "v1", "v2", "v3", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "pushed within", rules: []Rule{{Keep: KeepPushedWithin, Days: 7}},
			keep: []string{"dev-b", "latest", "v3", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "pushed within, matching", rules: []Rule{{Keep: KeepPushedWithin, Days: 30, Tags: "v*"}},
			keep: []string{"v2", "v3", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "always matching a pattern", rules: []Rule{{Keep: KeepAlways, Tags: "v*"}},
			keep: []string{"v1", "v2", "v3", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "always, negated pattern", rules: []Rule{{Keep: KeepAlways, Tags: "!*-rc*,dev-*"}},
			keep: []string{"latest", "v1", "v2", "v3"}, untagged: []string{"fresh"}},
		{name: "a tag is kept if any rule keeps it", rules: []Rule{
			{Keep: KeepLatestPushed, Count: 1, Tags: "v*"},
			{Keep: KeepPushedWithin, Days: 5, Tags: "dev-*"},
			{Keep: KeepAlways, Tags: "latest"},
		}, keep: []string{"dev-b", "latest", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "keep untagged", rules: []Rule{{Keep: KeepAlways, Tags: "latest"}, {Keep: KeepUntagged}},
			keep: []string{"latest"}, untagged: []string{"fresh", "old"}},
		{name: "keep untagged alone deletes every tag", rules: []Rule{{Keep: KeepUntagged}},
			keep: []string{}, untagged: []string{"fresh", "old"}},
		{name: "untagged rule of another repository", rules: []Rule{{Keep: KeepAlways}, {Keep: KeepUntagged, Repositories: "lib/**"}},
			keep: []string{"dev-a", "dev-b", "latest", "v1", "v2", "v3", "v4-rc1"}, untagged: []string{"fresh"}},
		{name: "repository not selected is untouched", rules: []Rule{{Keep: KeepLatestPushed, Count: 1, Repositories: "lib/**"}},
			untouched: true},
		{name: "only the rules selecting the repository apply", rules: []Rule{
			{Keep: KeepLatestPushed, Count: 1, Repositories: "app"},
			{Keep: KeepAlways, Repositories: "other"},
		}, keep: []string{"v4-rc1"}, untagged: []string{"fresh"}},
		{name: "excluded repositories", rules: []Rule{{Keep: KeepAlways, Tags: "latest", Repositories: "!app"}},
			untouched: true},
		{name: "repository named like the project", repo: "p", rules: []Rule{{Keep: KeepAlways, Tags: "latest", Repositories: "app/**"}},
			untouched: true},
		{name: "immutable tags are kept", rules: []Rule{{Keep: KeepLatestPushed, Count: 1}}, immutable: immutable,
			keep: []string{"v1", "v4-rc1"}, untagged: []string{"fresh"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			repo := tc.repo
			if repo == "" {
				repo = "p/app"
			}
			p := mustPolicy(t, tc.rules...)
			vs := p.Evaluate(now, repo, tags, untagged, tc.immutable, now.Add(-time.Hour))
			if tc.untouched {
				if vs != nil {
					t.Fatalf("repository not selected, but got %v", vs)
				}
				return
			}
			keep, kept := []string{}, []string{}
			for _, v := range vs {
				if v.Reason == "" {
					t.Errorf("%s %s has no reason", v.Tag, v.Digest)
				}
				if v.Repository != repo {
					t.Errorf("verdict for %s, want %s", v.Repository, repo)
				}
				switch {
				case v.Keep && v.Tag != "":
					keep = append(keep, v.Tag)
				case v.Keep:
					kept = append(kept, map[digest.Digest]string{untagged[0].Digest: "old", untagged[1].Digest: "fresh"}[v.Digest])
				}
			}
			slices.Sort(keep)
			slices.Sort(kept)
			if !slices.Equal(keep, tc.keep) {
				t.Errorf("kept tags %v, want %v", keep, tc.keep)
			}
			if !slices.Equal(kept, tc.untagged) {
				t.Errorf("kept untagged %v, want %v", kept, tc.untagged)
			}
			if len(vs) != len(tags)+len(untagged) {
				t.Errorf("%d verdicts for %d tags and %d untagged", len(vs), len(tags), len(untagged))
			}
		})
	}
}

func TestRetentionReasons(t *testing.T) {
	tags := tagsAt(map[string]float64{"a": 1, "b": 2})
	immutable := &TagRules{rules: []tagRule{{meta.ImmutableRule{ID: 3}, MustPattern("b")}}}
	p := mustPolicy(t, Rule{Keep: KeepAlways, Tags: "x"}, Rule{Keep: KeepLatestPushed, Count: 1})
	vs := p.Evaluate(now, "p/r", tags, nil, immutable, now)
	if vs[0].Reason != `rule 2: keep the 1 most recently pushed (repositories "**", tags "**")` {
		t.Errorf("reason = %q", vs[0].Reason)
	}
	if vs[1].Reason != "immutable (immutability rule 3)" || !vs[1].Keep {
		t.Errorf("immutable verdict = %+v", vs[1])
	}
}

// TestLatestPushedTies: equal push times are ordered by name.
func TestLatestPushedTies(t *testing.T) {
	tags := tagsAt(map[string]float64{"c": 1, "a": 1, "b": 1})
	vs := mustPolicy(t, Rule{Keep: KeepLatestPushed, Count: 2}).Evaluate(now, "p/r", tags, nil, nil, now)
	var keep []string
	for _, v := range vs {
		if v.Keep {
			keep = append(keep, v.Tag)
		}
	}
	if !slices.Equal(keep, []string{"a", "b"}) {
		t.Fatalf("kept %v, want [a b]", keep)
	}
}

func TestParseRetentionPolicy(t *testing.T) {
	tests := []struct {
		doc string
		ok  bool
	}{
		{`{"rules":[]}`, true},
		{`{"rules":[{"keep":"latest_pushed","count":5}],"schedule":"@daily"}`, true},
		{`{"rules":[{"keep":"pushed_within","days":30,"tags":"v*","repositories":"app/**"}],"schedule":"12h"}`, true},
		{`{"rules":[{"keep":"always","tags":"{main,release}-*"}]}`, true},
		{`{"rules":[{"keep":"untagged","repositories":"cache/**"}]}`, true},
		{`{"rules":[{"keep":"latest_pushed"}]}`, false},
		{`{"rules":[{"keep":"latest_pushed","count":0}]}`, false},
		{`{"rules":[{"keep":"latest_pushed","count":3,"days":1}]}`, false},
		{`{"rules":[{"keep":"pushed_within"}]}`, false},
		{`{"rules":[{"keep":"always","count":1}]}`, false},
		{`{"rules":[{"keep":"untagged","tags":"v*"}]}`, false},
		{`{"rules":[{"keep":"sometimes"}]}`, false},
		{`{"rules":[{"keep":"always","tags":"["}]}`, false},
		{`{"rules":[{"keep":"always","repositories":"{"}]}`, false},
		{`{"rules":[],"schedule":"5m"}`, false},
		{`{"rules":[],"schedule":"daily"}`, false},
		{`{"rules":[],"extra":1}`, false},
		{`{"rules":[]}{}`, false},
		{`[]`, false},
	}
	for _, tc := range tests {
		_, err := ParseRetentionPolicy([]byte(tc.doc))
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.doc, err)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", tc.doc, err)
		}
	}
	many := `{"rules":[` + strings.Repeat(`{"keep":"always"},`, MaxRetentionRules) + `{"keep":"always"}]}`
	if _, err := ParseRetentionPolicy([]byte(many)); !errors.Is(err, ErrInvalid) {
		t.Errorf("%d rules accepted", MaxRetentionRules+1)
	}
}

// FuzzParseRetentionPolicy: any document parses or is refused with
// ErrInvalid, and a valid policy evaluates without panicking.
func FuzzParseRetentionPolicy(f *testing.F) {
	f.Add([]byte(`{"rules":[{"keep":"latest_pushed","count":2,"tags":"v*"},{"keep":"untagged"}],"schedule":"@weekly"}`))
	f.Add([]byte(`{"rules":[{"keep":"pushed_within","days":1,"repositories":"!a/**"}]}`))
	tags := tagsAt(map[string]float64{"v1": 1, "latest": 2})
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := ParseRetentionPolicy(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		p.Evaluate(now, "p/app", tags, []meta.UntaggedManifest{{Digest: digest.FromString("u"), PushedAt: now}}, nil, now)
	})
}
