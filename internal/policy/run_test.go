package policy_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/policy"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

var ctx = context.Background()

type env struct {
	store  meta.Store
	svc    *registry.Service
	engine *policy.Engine
	rt     *policy.Retention
}

func newEnv(t *testing.T, del func(registry *registry.Service) policy.Deleter) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	d, err := filesystem.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	e := policy.New(st, policy.Options{}, log)
	svc := registry.New(st, storage.NewBlobs(d), registry.Options{Policy: e, DeleteEnabled: true, SingleInstance: true, CacheBytes: 1 << 20}, log)
	var deleter policy.Deleter = svc
	if del != nil {
		deleter = del(svc)
	}
	return &env{store: st, svc: svc, engine: e, rt: policy.NewRetention(e, deleter)}
}

// push pushes a small image named name to repo, tagged with tags (none:
// by digest), and returns its digest.
func (e *env) push(t *testing.T, repo, name string, tags ...string) digest.Digest {
	t.Helper()
	cfg := "config"
	d := digest.FromString(cfg)
	if _, err := e.svc.PushBlob(ctx, repo, d, int64(len(cfg)), strings.NewReader(cfg)); err != nil {
		t.Fatal(err)
	}
	body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],`+
		`"annotations":{"name":%q}}`, d, len(cfg), name)
	md := digest.FromBytes(body)
	ref := md.String()
	if len(tags) > 0 {
		ref = tags[0]
	}
	if _, err := e.svc.PutManifest(ctx, repo, ref, tags, "application/vnd.oci.image.manifest.v1+json", body); err != nil {
		t.Fatal(err)
	}
	return md
}

func (e *env) tags(t *testing.T, repo string) []string {
	t.Helper()
	tags, err := e.store.Tags(ctx, repo, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return tags
}

func (e *env) setPolicy(t *testing.T, project string, rules ...policy.Rule) {
	t.Helper()
	if err := e.engine.SetRetentionPolicy(ctx, project, &policy.RetentionPolicy{Rules: rules, Schedule: "@daily"}); err != nil {
		t.Fatal(err)
	}
}

func deleted(res *policy.RunResult) []string {
	var out []string
	for _, v := range res.Deleted {
		if v.Tag != "" {
			out = append(out, v.Repository+":"+v.Tag)
		} else {
			out = append(out, v.Repository+"@"+v.Digest.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestRetentionRun: a dry run reports and changes nothing; the run then
// deletes exactly what the dry run reported; immutable tags and
// repositories no rule selects stay; the runs are recorded.
func TestRetentionRun(t *testing.T) {
	e := newEnv(t, nil)
	for i := 1; i <= 4; i++ {
		e.push(t, "p/app", fmt.Sprintf("app %d", i), fmt.Sprintf("1.%d", i))
	}
	e.push(t, "p/app", "latest", "latest")
	loose := e.push(t, "p/app", "loose") // untagged
	e.push(t, "p/lib", "lib", "0.1")
	e.push(t, "p/lib", "lib2", "0.2")
	e.push(t, "q/app", "other project", "1.0")
	if _, err := e.engine.AddImmutableRule(ctx, meta.ImmutableRule{Project: "p", Tags: "1.1"}); err != nil {
		t.Fatal(err)
	}
	e.setPolicy(t, "p",
		policy.Rule{Repositories: "app", Keep: policy.KeepLatestPushed, Count: 2},
		policy.Rule{Repositories: "app", Keep: policy.KeepAlways, Tags: "latest"},
	)
	if _, err := e.rt.Run(ctx, "nope", policy.RunOptions{}); !errors.Is(err, policy.ErrNotFound) {
		t.Fatalf("run without a policy = %v", err)
	}

	// Kept: latest and 1.4 (the two most recent), 1.1 (immutable).
	want := []string{"p/app:1.2", "p/app:1.3", "p/app@" + loose.String()}
	before := e.tags(t, "p/app")
	dry, err := e.rt.Run(ctx, "p", policy.RunOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := deleted(dry); !slices.Equal(got, want) {
		t.Fatalf("dry run would delete %v, want %v", got, want)
	}
	if !dry.DryRun || dry.Status != "done" || dry.Repositories != 1 || dry.TagsKept != 3 || dry.TagsDeleted != 2 || dry.ManifestsDeleted != 1 {
		t.Fatalf("dry run result %+v", dry)
	}
	if after := e.tags(t, "p/app"); !slices.Equal(after, before) {
		t.Fatalf("dry run changed the tags: %v -> %v", before, after)
	}
	if _, err := e.store.Manifest(ctx, "p/app", loose); err != nil {
		t.Fatalf("dry run deleted the untagged manifest: %v", err)
	}

	res, err := e.rt.Run(ctx, "p", policy.RunOptions{Trigger: policy.TriggerCLI})
	if err != nil {
		t.Fatal(err)
	}
	if got := deleted(res); !slices.Equal(got, want) {
		t.Fatalf("run deleted %v, want %v", got, want)
	}
	if got := e.tags(t, "p/app"); !slices.Equal(got, []string{"1.1", "1.4", "latest"}) {
		t.Fatalf("tags after the run: %v", got)
	}
	if _, err := e.store.Manifest(ctx, "p/app", loose); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("untagged manifest not deleted: %v", err)
	}
	if got := e.tags(t, "p/lib"); len(got) != 2 {
		t.Fatalf("p/lib, selected by no rule, lost tags: %v", got)
	}
	if got := e.tags(t, "q/app"); len(got) != 1 {
		t.Fatalf("another project lost tags: %v", got)
	}
	// Reads through the service see the deletion (its caches forgot).
	if _, err := e.svc.GetManifest(ctx, "p/app", "1.2"); !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("deleted tag still served: %v", err)
	}
	// The manifests left untagged go on the next run (no rule keeps
	// untagged manifests); then there is nothing more.
	again, _ := e.rt.Run(ctx, "p", policy.RunOptions{})
	if again.TagsDeleted != 0 || again.ManifestsDeleted != 2 {
		t.Fatalf("second run deleted %v, want the two manifests left untagged", deleted(again))
	}
	if last, _ := e.rt.Run(ctx, "p", policy.RunOptions{}); last.TagsDeleted+last.ManifestsDeleted != 0 {
		t.Fatalf("third run deleted %v", deleted(last))
	}
	runs, err := e.engine.RetentionRuns(ctx, "p", 10)
	if err != nil || len(runs) != 4 {
		t.Fatalf("recorded runs = %d, %v", len(runs), err)
	}
	if r := runs[2]; r.ID != res.ID || r.Trigger != policy.TriggerCLI || r.TagsDeleted != 2 || !slices.Equal(deleted(&r), want) {
		t.Fatalf("recorded run %+v", r)
	}
	if !runs[3].DryRun {
		t.Fatalf("oldest recorded run is not the dry run: %+v", runs[2])
	}
}

// movingDeleter moves the tag just before the run deletes it: a push that
// lands during the run wins.
type movingDeleter struct {
	*registry.Service
	e **env
	t *testing.T
}

func (m movingDeleter) DeleteTagIf(ctx context.Context, repo, tag string, dgst digest.Digest) error {
	(*m.e).push(m.t, repo, "pushed during the run", tag)
	return m.Service.DeleteTagIf(ctx, repo, tag, dgst)
}

func TestRetentionRunSkipsWhatChanged(t *testing.T) {
	var e *env
	e = newEnv(t, func(svc *registry.Service) policy.Deleter { return movingDeleter{svc, &e, t} })
	e.push(t, "p/app", "old", "old")
	e.push(t, "p/app", "new", "new")
	e.setPolicy(t, "p", policy.Rule{Keep: policy.KeepLatestPushed, Count: 1})
	res, err := e.rt.Run(ctx, "p", policy.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != 1 || res.TagsDeleted != 0 {
		t.Fatalf("result %+v, want the moved tag skipped", res)
	}
	if got := e.tags(t, "p/app"); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("tags %v", got)
	}
}

func TestRetentionPolicyValidation(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		project string
		p       policy.RetentionPolicy
	}{
		{"p", policy.RetentionPolicy{Rules: []policy.Rule{{Keep: "whatever"}}}},
		{"p", policy.RetentionPolicy{Schedule: "often"}},
		{"Not/A/Project", policy.RetentionPolicy{}},
	} {
		if err := e.engine.SetRetentionPolicy(ctx, tc.project, &tc.p); !errors.Is(err, policy.ErrInvalid) {
			t.Errorf("SetRetentionPolicy(%s, %+v) = %v", tc.project, tc.p, err)
		}
	}
	e.setPolicy(t, "p", policy.Rule{Keep: policy.KeepPushedWithin, Days: 3, Tags: "v*"})
	got, err := e.engine.RetentionPolicy(ctx, "p")
	if err != nil || len(got.Rules) != 1 || got.Rules[0].Days != 3 || got.Schedule != "@daily" {
		t.Fatalf("stored policy = %+v, %v", got, err)
	}
	if err := e.engine.DeleteRetentionPolicy(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.engine.RetentionPolicy(ctx, "p"); !errors.Is(err, policy.ErrNotFound) {
		t.Fatalf("deleted policy = %v", err)
	}
}
