package metatest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// policyTests exercise meta.PolicyStore.
var policyTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"ImmutableRules", testImmutableRules},
	{"Quotas", testQuotas},
	{"ProjectUsage", testProjectUsage},
	{"InProject", testInProject},
	{"RetentionPolicies", testRetentionPolicies},
	{"RetentionRuns", testRetentionRuns},
	{"TagDetailsAndUntagged", testTagDetailsAndUntagged},
	{"DeleteTagIf", testDeleteTagIf},
	{"DeleteUntaggedManifest", testDeleteUntagged},
	{"PutManifestGuarded", testPutManifestGuarded},
	{"PutManifestGuardedRace", testPutManifestGuardedRace},
	{"DeleteManifestChecked", testDeleteManifestChecked},
}

func testImmutableRules(t *testing.T, s meta.Store) {
	if rules, err := s.ImmutableRules(ctx, "p"); err != nil || len(rules) != 0 {
		t.Fatalf("no rules = %v, %v", rules, err)
	}
	r1, err := s.AddImmutableRule(ctx, meta.ImmutableRule{Project: "p", Repositories: "**", Tags: "v*"})
	if err != nil || r1.ID == 0 || r1.CreatedAt.IsZero() {
		t.Fatalf("AddImmutableRule = %+v, %v", r1, err)
	}
	r2, _ := s.AddImmutableRule(ctx, meta.ImmutableRule{Project: "p", Repositories: "app", Tags: "release-*"})
	s.AddImmutableRule(ctx, meta.ImmutableRule{Project: "other", Repositories: "**", Tags: "**"})
	rules, err := s.ImmutableRules(ctx, "p")
	if err != nil || len(rules) != 2 || rules[0].ID != r1.ID || rules[1].Tags != "release-*" || rules[0].Project != "p" {
		t.Fatalf("ImmutableRules = %+v, %v", rules, err)
	}
	r2.Tags = "stable"
	if err := s.UpdateImmutableRule(ctx, r2); err != nil {
		t.Fatal(err)
	}
	// A rule is addressed within its project.
	if err := s.UpdateImmutableRule(ctx, meta.ImmutableRule{ID: r2.ID, Project: "other", Repositories: "x", Tags: "y"}); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("update through another project = %v", err)
	}
	if err := s.DeleteImmutableRule(ctx, "other", r1.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete through another project = %v", err)
	}
	if err := s.DeleteImmutableRule(ctx, "p", r1.ID); err != nil {
		t.Fatal(err)
	}
	rules, _ = s.ImmutableRules(ctx, "p")
	if len(rules) != 1 || rules[0].Tags != "stable" || rules[0].Repositories != "app" {
		t.Fatalf("after update and delete = %+v", rules)
	}
	if err := s.DeleteImmutableRule(ctx, "p", r1.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func testQuotas(t *testing.T, s meta.Store) {
	if _, err := s.Quota(ctx, "p"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("no quota = %v", err)
	}
	q := meta.Quota{Project: "p", StorageBytes: 1 << 30, Repositories: meta.Unlimited, Manifests: 100}
	if err := s.SetQuota(ctx, q); err != nil {
		t.Fatal(err)
	}
	q.StorageBytes = 2 << 30
	if err := s.SetQuota(ctx, q); err != nil {
		t.Fatal(err)
	}
	s.SetQuota(ctx, meta.Quota{Project: "a", StorageBytes: 1, Repositories: 1, Manifests: 1})
	got, err := s.Quota(ctx, "p")
	if err != nil || got.StorageBytes != 2<<30 || got.Repositories != meta.Unlimited || got.Manifests != 100 || got.UpdatedAt.IsZero() {
		t.Fatalf("Quota = %+v, %v", got, err)
	}
	all, err := s.Quotas(ctx)
	if err != nil || len(all) != 2 || all[0].Project != "a" || all[1].Project != "p" {
		t.Fatalf("Quotas = %+v, %v", all, err)
	}
	if err := s.DeleteQuota(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteQuota(ctx, "p"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second DeleteQuota = %v", err)
	}
}

func mustPutSized(t *testing.T, s meta.Store, repo, content string, size int64) digest.Digest {
	t.Helper()
	d := dg(content)
	if err := s.PutBlob(ctx, repo, meta.Blob{Digest: d, Size: size}); err != nil {
		t.Fatal(err)
	}
	return d
}

func wantUsage(t *testing.T, what string, got meta.Usage, err error, want meta.Usage) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("%s usage = %+v, %v; want %+v", what, got, err, want)
	}
}

// testProjectUsage: a blob counts once per project however many of its
// repositories hold it; manifests count by size; names that merely start
// like the project are other projects; usage follows deletes and unlinks.
func testProjectUsage(t *testing.T, s meta.Store) {
	u, err := s.ProjectUsage(ctx, "team")
	wantUsage(t, "empty project", u, err, meta.Usage{})

	shared := mustPutSized(t, s, "team/app", "shared layer", 1000)
	mustPutSized(t, s, "team/lib/x", "shared layer", 1000) // same blob, second repo
	own := mustPutSized(t, s, "team/lib/x", "own layer", 300)
	mustPutSized(t, s, "team", "top", 7)                  // the repository named like the project
	mustPutSized(t, s, "team2/app", "shared layer", 1000) // another project
	mustPutSized(t, s, "team-b", "other", 50)             // another project
	mustPutSized(t, s, "tea/m", "other2", 60)             // another project

	m := manifest("team/app", "manifest-1", shared) // 10 bytes
	m.Content = []byte("0123456789")
	if err := s.PutManifest(ctx, m, []string{"v1", "latest"}); err != nil {
		t.Fatal(err)
	}
	// The same manifest in a second repository adds no bytes, one manifest.
	m2 := *m
	m2.Repository = "team/lib/x"
	if err := s.PutManifest(ctx, &m2, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	u, err = s.ProjectUsage(ctx, "team")
	wantUsage(t, "team", u, err, meta.Usage{StorageBytes: 1000 + 300 + 7 + 10, Blobs: 3, Manifests: 2, Repositories: 3, Tags: 3})
	u, err = s.RepositoryUsage(ctx, "team/lib/x")
	wantUsage(t, "team/lib/x", u, err, meta.Usage{StorageBytes: 1000 + 300 + 10, Blobs: 2, Manifests: 1, Repositories: 1, Tags: 1})
	u, err = s.ProjectUsage(ctx, "team2")
	wantUsage(t, "team2", u, err, meta.Usage{StorageBytes: 1000, Blobs: 1, Repositories: 1})
	u, err = s.RepositoryUsage(ctx, "nope")
	wantUsage(t, "unknown repository", u, err, meta.Usage{})

	repos, err := s.ProjectRepositories(ctx, "team", "", -1)
	if err != nil || !slices.Equal(repos, []string{"team", "team/app", "team/lib/x"}) {
		t.Fatalf("ProjectRepositories = %v, %v", repos, err)
	}
	repos, err = s.ProjectRepositories(ctx, "team", "team", 1)
	if err != nil || !slices.Equal(repos, []string{"team/app"}) {
		t.Fatalf("ProjectRepositories page = %v, %v", repos, err)
	}

	// Unlinking the own layer (what GC does to a blob nothing uses)
	// frees it at once.
	if err := s.UnlinkBlob(ctx, "team/lib/x", own); err != nil {
		t.Fatal(err)
	}
	u, _ = s.ProjectUsage(ctx, "team")
	if u.StorageBytes != 1000+7+10 || u.Blobs != 2 {
		t.Fatalf("after unlink: %+v", u)
	}
	// A blob unlinked from its repository but still referenced by a
	// manifest there still counts.
	if err := s.UnlinkBlob(ctx, "team/app", shared); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkBlob(ctx, "team/lib/x", shared); err != nil {
		t.Fatal(err)
	}
	u, _ = s.ProjectUsage(ctx, "team")
	if u.StorageBytes != 1000+7+10 || u.Blobs != 2 {
		t.Fatalf("after unlinking a referenced blob: %+v", u)
	}
	// Deleting the manifests frees the manifest and the blob only they held.
	if err := s.DeleteManifest(ctx, "team/app", m.Digest); err != nil {
		t.Fatal(err)
	}
	u, _ = s.ProjectUsage(ctx, "team")
	wantUsage(t, "after one manifest delete", u, nil, meta.Usage{StorageBytes: 1000 + 7 + 10, Blobs: 2, Manifests: 1, Repositories: 3, Tags: 1})
	if err := s.DeleteManifest(ctx, "team/lib/x", m.Digest); err != nil {
		t.Fatal(err)
	}
	u, _ = s.ProjectUsage(ctx, "team")
	wantUsage(t, "after both manifest deletes", u, nil, meta.Usage{StorageBytes: 7, Blobs: 1, Repositories: 3})
}

func testInProject(t *testing.T, s meta.Store) {
	b := mustPutSized(t, s, "p/a", "blob", 4)
	c := mustPutSized(t, s, "p/a", "config", 6)
	m := manifest("p/a", "manifest", c)
	if err := s.PutManifest(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		project string
		d       digest.Digest
		want    bool
	}{
		{"p", b, true}, {"p", c, true}, {"p", m.Digest, true},
		{"q", b, false}, {"p", dg("unknown"), false}, {"pa", b, false},
	} {
		if got, err := s.InProject(ctx, tc.project, tc.d); err != nil || got != tc.want {
			t.Errorf("InProject(%s, %s) = %v, %v; want %v", tc.project, tc.d, got, err, tc.want)
		}
	}
	// Referenced by a manifest of the project, not linked: still held.
	if err := s.UnlinkBlob(ctx, "p/a", c); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.InProject(ctx, "p", c); !got {
		t.Error("a blob a manifest of the project references is not in the project")
	}
}

func testRetentionPolicies(t *testing.T, s meta.Store) {
	if _, err := s.RetentionPolicy(ctx, "p"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("no policy = %v", err)
	}
	p := meta.RetentionPolicy{Project: "p", Rules: `{"rules":[]}`, Schedule: "24h"}
	if err := s.SetRetentionPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Rules = `{"rules":[{"keep":"always"}]}`
	if err := s.SetRetentionPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	s.SetRetentionPolicy(ctx, meta.RetentionPolicy{Project: "a", Rules: "{}"})
	got, err := s.RetentionPolicy(ctx, "p")
	if err != nil || got.Rules != p.Rules || got.Schedule != "24h" || got.UpdatedAt.IsZero() {
		t.Fatalf("RetentionPolicy = %+v, %v", got, err)
	}
	all, err := s.RetentionPolicies(ctx)
	if err != nil || len(all) != 2 || all[0].Project != "a" || all[1].Rules != p.Rules {
		t.Fatalf("RetentionPolicies = %+v, %v", all, err)
	}
	if err := s.DeleteRetentionPolicy(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRetentionPolicy(ctx, "p"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}

func testRetentionRuns(t *testing.T, s meta.Store) {
	start := time.Unix(1700000000, 0).UTC()
	var last int64
	for i := range 55 {
		id, err := s.AddRetentionRun(ctx, meta.RetentionRun{Project: "p", Trigger: "api", DryRun: i%2 == 0,
			StartedAt: start.Add(time.Duration(i) * time.Minute), FinishedAt: start.Add(time.Duration(i)*time.Minute + time.Second),
			Status: "done", Summary: fmt.Sprintf(`{"i":%d}`, i)})
		if err != nil || id <= last {
			t.Fatalf("AddRetentionRun %d = %d, %v", i, id, err)
		}
		last = id
	}
	s.AddRetentionRun(ctx, meta.RetentionRun{Project: "q", Trigger: "cli", StartedAt: start, FinishedAt: start, Status: "failed", Summary: "{}"})
	runs, err := s.RetentionRuns(ctx, "p", 100)
	if err != nil || len(runs) != 50 {
		t.Fatalf("RetentionRuns = %d runs, %v; want the newest 50", len(runs), err)
	}
	r := runs[0]
	if r.ID != last || r.Summary != `{"i":54}` || !r.DryRun || r.Trigger != "api" || r.Status != "done" ||
		!r.StartedAt.Equal(start.Add(54*time.Minute)) || r.FinishedAt.Sub(r.StartedAt) != time.Second {
		t.Fatalf("newest run = %+v", r)
	}
	if runs[49].Summary != `{"i":5}` {
		t.Fatalf("oldest kept run = %+v", runs[49])
	}
	if runs, _ := s.RetentionRuns(ctx, "q", 2); len(runs) != 1 || runs[0].Status != "failed" {
		t.Fatalf("runs of q = %+v", runs)
	}
}

func testTagDetailsAndUntagged(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	tagged := manifest("r", "tagged", c)
	if err := s.PutManifest(ctx, tagged, []string{"b", "a"}); err != nil {
		t.Fatal(err)
	}
	loose := manifest("r", "loose", c)
	child := manifest("r", "child", c)
	idxChild := manifest("r", "child-of-untagged-index", c)
	for _, m := range []*meta.Manifest{loose, child, idxChild} {
		if err := s.PutManifest(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	idx := &meta.Manifest{Repository: "r", Digest: dg("index"), MediaType: "application/vnd.oci.image.index.v1+json",
		Content: []byte("index"), Children: []digest.Digest{child.Digest}}
	if err := s.PutManifest(ctx, idx, []string{"multi"}); err != nil {
		t.Fatal(err)
	}
	untaggedIdx := &meta.Manifest{Repository: "r", Digest: dg("untagged index"), MediaType: "application/vnd.oci.image.index.v1+json",
		Content: []byte("untagged index"), Children: []digest.Digest{idxChild.Digest}}
	if err := s.PutManifest(ctx, untaggedIdx, nil); err != nil {
		t.Fatal(err)
	}
	sig := manifest("r", "signature", c)
	sig.Subject = tagged.Digest
	orphan := manifest("r", "orphan signature", c)
	orphan.Subject = dg("gone")
	for _, m := range []*meta.Manifest{sig, orphan} {
		if err := s.PutManifest(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}

	tags, err := s.TagDetails(ctx, "r")
	if err != nil || len(tags) != 3 || tags[0].Name != "a" || tags[0].Digest != tagged.Digest || tags[2].Name != "multi" ||
		tags[2].Digest != idx.Digest || tags[0].PushedAt.IsZero() || time.Since(tags[0].PushedAt) > time.Hour {
		t.Fatalf("TagDetails = %+v, %v", tags, err)
	}
	got, err := s.UntaggedManifests(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var ds []digest.Digest
	for _, m := range got {
		ds = append(ds, m.Digest)
		if m.PushedAt.IsZero() {
			t.Errorf("untagged %s has no push time", m.Digest)
		}
	}
	want := []digest.Digest{loose.Digest, untaggedIdx.Digest, orphan.Digest}
	slices.Sort(want)
	if !slices.Equal(ds, want) {
		t.Fatalf("UntaggedManifests = %v, want %v (loose, untagged index, orphan signature)", ds, want)
	}
	if none, err := s.UntaggedManifests(ctx, "unknown"); err != nil || len(none) != 0 {
		t.Fatalf("UntaggedManifests of unknown repo = %v, %v", none, err)
	}
	if none, err := s.TagDetails(ctx, "unknown"); err != nil || len(none) != 0 {
		t.Fatalf("TagDetails of unknown repo = %v, %v", none, err)
	}
}

func testDeleteTagIf(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	m1, m2 := manifest("r", "m1", c), manifest("r", "m2", c)
	s.PutManifest(ctx, m1, []string{"t"})
	s.PutManifest(ctx, m2, nil)
	if err := s.DeleteTagIf(ctx, "r", "t", m2.Digest); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("delete of a tag that points elsewhere = %v, want ErrConflict", err)
	}
	if d, _ := s.ResolveTag(ctx, "r", "t"); d != m1.Digest {
		t.Fatal("refused DeleteTagIf changed the tag")
	}
	if err := s.DeleteTagIf(ctx, "r", "t", m1.Digest); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTagIf(ctx, "r", "t", m1.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("delete of a gone tag = %v, want ErrNotFound", err)
	}
	if _, err := s.Manifest(ctx, "r", m1.Digest); err != nil {
		t.Fatalf("the manifest went with its tag: %v", err)
	}
}

func testDeleteUntagged(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	m := manifest("r", "m", c)
	s.PutManifest(ctx, m, []string{"t"})
	if err := s.DeleteUntaggedManifest(ctx, "r", m.Digest); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("delete of a tagged manifest = %v, want ErrConflict", err)
	}
	s.DeleteTag(ctx, "r", "t")
	if err := s.DeleteUntaggedManifest(ctx, "r", m.Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Manifest(ctx, "r", m.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("manifest still there: %v", err)
	}
	if err := s.DeleteUntaggedManifest(ctx, "r", m.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete = %v, want ErrNotFound", err)
	}
}

func testPutManifestGuarded(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	m1, m2 := manifest("r", "m1", c), manifest("r", "m2", c)
	// Creating an immutable tag is fine, so is pushing it again.
	for range 2 {
		if err := s.PutManifestGuarded(ctx, m1, []string{"v1", "latest"}, []string{"v1"}); err != nil {
			t.Fatal(err)
		}
	}
	// Moving it is not, and nothing of the push remains: not the manifest,
	// not the other tag.
	err := s.PutManifestGuarded(ctx, m2, []string{"latest", "v1"}, []string{"v1"})
	var ie *meta.ImmutableTagError
	if !errors.As(err, &ie) || ie.Tag != "v1" || !errors.Is(err, meta.ErrTagImmutable) {
		t.Fatalf("moving an immutable tag = %v", err)
	}
	if _, err := s.Manifest(ctx, "r", m2.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("refused push stored its manifest: %v", err)
	}
	for _, tag := range []string{"v1", "latest"} {
		if d, _ := s.ResolveTag(ctx, "r", tag); d != m1.Digest {
			t.Fatalf("refused push moved %s to %s", tag, d)
		}
	}
	// Tags not in the immutable list move as usual.
	if err := s.PutManifestGuarded(ctx, m2, []string{"latest"}, []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.ResolveTag(ctx, "r", "latest"); d != m2.Digest {
		t.Fatalf("latest = %s, want %s", d, m2.Digest)
	}
}

// testPutManifestGuardedRace: pushes of different manifests racing to
// create the same immutable tag: exactly one wins, the tag never moves.
func testPutManifestGuardedRace(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	for round := range 3 {
		tag := fmt.Sprintf("v%d", round)
		var mu sync.Mutex
		var won []digest.Digest
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := manifest("r", fmt.Sprintf("m-%d-%d", round, i), c)
				<-start
				err := s.PutManifestGuarded(ctx, m, []string{tag}, []string{tag})
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, m.Digest)
					mu.Unlock()
				case !errors.Is(err, meta.ErrTagImmutable):
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("round %d: %d pushes set the immutable tag, want 1", round, len(won))
		}
		if d, _ := s.ResolveTag(ctx, "r", tag); d != won[0] {
			t.Fatalf("tag %s = %s, but %s won", tag, d, won[0])
		}
	}
}

func testDeleteManifestChecked(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	m := manifest("r", "m", c)
	s.PutManifest(ctx, m, []string{"b", "a"})
	refuse := errors.New("refused")
	var seen []string
	err := s.DeleteManifestChecked(ctx, "r", m.Digest, func(tags []string) error { seen = tags; return refuse })
	if !errors.Is(err, refuse) || !slices.Equal(seen, []string{"a", "b"}) {
		t.Fatalf("refused delete = %v, saw tags %v", err, seen)
	}
	if d, _ := s.ResolveTag(ctx, "r", "a"); d != m.Digest {
		t.Fatal("refused delete removed the tag")
	}
	if err := s.DeleteManifestChecked(ctx, "r", m.Digest, func([]string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Manifest(ctx, "r", m.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("manifest still there: %v", err)
	}
	if err := s.DeleteManifestChecked(ctx, "r", m.Digest, func([]string) error { return nil }); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete = %v", err)
	}
}
