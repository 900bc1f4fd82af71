package replication

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/oci"
)

func TestSelectTags(t *testing.T) {
	tags := []string{"latest", "v1.0.0", "v1.2.0", "v2.0.0-rc1", "v2.0.0", "dev", "sha256-" + strings.Repeat("a", 64) + ".sig",
		"sha256-" + strings.Repeat("b", 64)}
	tests := []struct {
		name string
		rule Rule
		want []string
	}{
		{"all but signature tags", Rule{}, []string{"v2.0.0", "v2.0.0-rc1", "v1.2.0", "v1.0.0", "latest", "dev"}},
		{"glob", Rule{Tags: "v1.*"}, []string{"v1.2.0", "v1.0.0"}},
		{"negated glob", Rule{Tags: "!v*"}, []string{"latest", "dev"}},
		{"regex", Rule{TagRegex: `v\d+\.\d+\.\d+`}, []string{"v2.0.0", "v1.2.0", "v1.0.0"}},
		{"semver", Rule{Semver: ">=1.1, <3"}, []string{"v2.0.0", "v1.2.0"}},
		{"latest 2", Rule{Latest: 2}, []string{"v2.0.0", "v2.0.0-rc1"}},
		{"glob and latest", Rule{Tags: "v*", Semver: ">=1", Latest: 1}, []string{"v2.0.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := compileFilter(&tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.selectTags(tags); !slices.Equal(got, tc.want) {
				t.Fatalf("selectTags = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRepositoriesAndRewrite(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		repo    string
		match   bool
		dest    string
		literal []string
	}{
		{"everything", Rule{}, "team/app/api", true, "team/app/api", nil},
		{"glob", Rule{Repositories: "team/**"}, "team/app/api", true, "team/app/api", nil},
		{"glob misses", Rule{Repositories: "team/*"}, "other/app", false, "other/app", nil},
		{"regex", Rule{Repositories: "team/**", RepositoryRegex: `.*/api`}, "team/app/web", false, "team/app/web", nil},
		{"namespace", Rule{Destination: Rewrite{Namespace: "dr"}}, "team/app", true, "dr/team/app", nil},
		{"strip prefix", Rule{Destination: Rewrite{StripPrefix: "team/", Namespace: "site-b"}}, "team/app/api", true, "site-b/app/api", nil},
		{"flatten 1", Rule{Destination: Rewrite{Flatten: 1}}, "team/app/api", true, "app/api", nil},
		{"flatten all", Rule{Destination: Rewrite{Flatten: -1, Namespace: "mirror"}}, "team/app/api", true, "mirror/api", nil},
		{"flatten keeps the last", Rule{Destination: Rewrite{Flatten: 5}}, "team/app", true, "app", nil},
		{"literal names", Rule{Repositories: "library/alpine, team/app"}, "team/app", true, "team/app", []string{"library/alpine", "team/app"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := compileFilter(&tc.rule)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.repo(tc.repo); got != tc.match {
				t.Fatalf("repo(%q) = %v", tc.repo, got)
			}
			if got, err := f.rewrite(tc.repo); err != nil || got != tc.dest {
				t.Fatalf("rewrite(%q) = %q, %v; want %q", tc.repo, got, err, tc.dest)
			}
			lit, ok := f.literalRepos()
			if ok != (tc.literal != nil) || !slices.Equal(lit, tc.literal) {
				t.Fatalf("literalRepos = %v, %v; want %v", lit, ok, tc.literal)
			}
		})
	}
}

func TestRuleValidation(t *testing.T) {
	ok := Rule{Name: "r", Direction: Push, Registry: "b"}
	bad := []func(r *Rule){
		func(r *Rule) { r.Name = "Bad Name" },
		func(r *Rule) { r.Direction = "both" },
		func(r *Rule) { r.Registry = "" },
		func(r *Rule) { r.Tags = "[" },
		func(r *Rule) { r.TagRegex = "(" },
		func(r *Rule) { r.Semver = "not a range" },
		func(r *Rule) { r.Latest = -1 },
		func(r *Rule) { r.Schedule = "every tuesday" },
		func(r *Rule) { r.Destination.Namespace = "UPPER" },
		func(r *Rule) { r.Destination.Flatten = -2 },
		func(r *Rule) { r.Concurrency = 65 },
		func(r *Rule) { r.Bandwidth = 10 },
		func(r *Rule) { r.Direction, r.Events = Pull, true },
	}
	r := ok
	if err := r.validate(); err != nil || r.Concurrency != 4 {
		t.Fatalf("valid rule: %v (concurrency %d)", err, r.Concurrency)
	}
	for i, edit := range bad {
		r := ok
		edit(&r)
		if err := r.validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: %+v validated: %v", i, r, err)
		}
	}
}

func TestRegistryValidation(t *testing.T) {
	for _, tc := range []struct {
		r    Registry
		ok   bool
		want string
	}{
		{Registry{Name: "b", URL: "https://registry.example.com/"}, true, "https://registry.example.com"},
		{Registry{Name: "b", URL: "http://127.0.0.1:5000", Type: TypeDistribution}, true, "http://127.0.0.1:5000"},
		{Registry{Name: "b", URL: "ftp://x"}, false, ""},
		{Registry{Name: "b", URL: "https://x/path"}, false, ""},
		{Registry{Name: "b", URL: "https://u:p@x"}, false, ""},
		{Registry{Name: "b", URL: "https://x", Type: "quay2"}, false, ""},
		{Registry{Name: "b", URL: "https://x", Token: "t", Username: "u"}, false, ""},
	} {
		err := tc.r.validate()
		if (err == nil) != tc.ok || (tc.ok && tc.r.URL != tc.want) {
			t.Errorf("%+v: %v", tc.r, err)
		}
	}
	r := Registry{Password: "p", Token: "t"}.Redacted()
	if r.Password != redacted || r.Token != redacted {
		t.Fatalf("redacted = %+v", r)
	}
}

func TestSchedule(t *testing.T) {
	s, err := ParseSchedule("30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	if got := s.Next(from); !got.Equal(time.Date(2026, 1, 2, 2, 30, 0, 0, time.UTC)) {
		t.Fatalf("next = %v", got)
	}
	if _, err := ParseSchedule("@every 30m"); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseSchedule("61 * * * *"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad minute: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	s := &Service{}
	s.opts.Config.RetryBase, s.opts.Config.RetryMax = time.Second, 10*time.Second
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 50: 10 * time.Second} {
		if got := s.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestEventTasks(t *testing.T) {
	rule := Rule{Name: "r", Direction: Push, Registry: "b", Events: true, Repositories: "team/**", Tags: "v*",
		Deletions: true, Destination: Rewrite{Namespace: "dr"}}
	sig := "sha256-" + strings.Repeat("c", 64) + ".sig"
	tests := []struct {
		ev   Event
		want []string // kind:dest:ref
	}{
		{Event{Type: ManifestPushed, Repository: "team/app", Tags: []string{"v1", "latest", sig}}, []string{"copy:dr/team/app:v1", "copy:dr/team/app:" + sig}},
		{Event{Type: ManifestPushed, Repository: "other/app", Tags: []string{"v1"}}, nil},
		{Event{Type: ManifestPushed, Repository: "team/app", Digest: "sha256:" + strings.Repeat("d", 64)}, []string{"copy:dr/team/app:sha256:" + strings.Repeat("d", 64)}},
		{Event{Type: TagDeleted, Repository: "team/app", Tags: []string{"v1", "latest"}}, []string{"delete:dr/team/app:v1"}},
		{Event{Type: ManifestDeleted, Repository: "team/app", Digest: "sha256:" + strings.Repeat("e", 64)}, []string{"delete:dr/team/app:sha256:" + strings.Repeat("e", 64)}},
	}
	for _, tc := range tests {
		tasks, err := eventTasks(&rule, tc.ev)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range tasks {
			got = append(got, k.Kind+":"+k.Dest+":"+k.Ref)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%+v: tasks %v, want %v", tc.ev, got, tc.want)
		}
	}
	rule.Deletions = false
	if tasks, _ := eventTasks(&rule, Event{Type: TagDeleted, Repository: "team/app", Tags: []string{"v1"}}); len(tasks) != 0 {
		t.Fatalf("deletions off: %v", tasks)
	}
}

func TestNextLink(t *testing.T) {
	for h, want := range map[string]string{
		`</v2/_catalog?last=b&n=2>; rel="next"`:             "/v2/_catalog?last=b&n=2",
		`<https://x/v2/a/tags/list?n=1&last=c>; rel="next"`: "https://x/v2/a/tags/list?n=1&last=c",
		``:                    "",
		`</v2/x>; rel="prev"`: "",
	} {
		if got := nextLink(h); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", h, got, want)
		}
	}
}

// FuzzRuleFilter: any rule either fails validation or filters and
// rewrites without panicking, and every rewritten name is valid.
func FuzzRuleFilter(f *testing.F) {
	f.Add("team/**", `.*`, "v*", `v\d+`, ">=1", 2, "team/", 1, "dr", "team/app/api", "v1.2.3")
	f.Add("!x/*", "", "", "", "", 0, "", -1, "", "a", "latest")
	f.Add("{a,b}/c", "(a|b)/c", "!*-rc*", "", "~1.2", 0, "a/", 3, "m/n", "a/c", "1.2.9")
	f.Fuzz(func(t *testing.T, repos, repoRE, tags, tagRE, sv string, latest int, strip string, flatten int, ns, repo, tag string) {
		r := Rule{Name: "r", Direction: Push, Registry: "b", Repositories: repos, RepositoryRegex: repoRE, Tags: tags,
			TagRegex: tagRE, Semver: sv, Latest: latest, Destination: Rewrite{StripPrefix: strip, Flatten: flatten, Namespace: ns}}
		if err := r.validate(); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("validation error without ErrInvalid: %v", err)
			}
			return
		}
		f, err := compileFilter(&r)
		if err != nil {
			t.Fatal(err)
		}
		f.repo(repo)
		f.literalRepos()
		sel := f.selectTags([]string{tag, "latest", "v1.0.0"})
		if latest > 0 && len(sel) > latest {
			t.Fatalf("latest %d selected %d", latest, len(sel))
		}
		for _, s := range sel {
			if isSignatureTag(s) {
				t.Fatalf("selected signature tag %q", s)
			}
		}
		if oci.ValidName(repo) {
			if dest, err := f.rewrite(repo); err == nil && !oci.ValidName(dest) {
				t.Fatalf("rewrite(%q) = invalid %q", repo, dest)
			}
		}
	})
}

// FuzzParseSchedule: the cron parser never panics, and a schedule it
// accepts has a next time after any start.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"* * * * *", "30 2 * * 1-5", "@hourly", "@every 1h30m", "0 0 29 2 *", "*/15 0-6 1,15 * MON", "CRON_TZ=UTC 0 3 * * *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sched, err := ParseSchedule(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		if next := sched.Next(from); !next.IsZero() && !next.After(from) {
			t.Fatalf("%q: next %v is not after %v", s, next, from)
		}
	})
}
