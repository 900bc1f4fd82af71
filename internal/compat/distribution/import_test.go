package distribution_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/compat/distribution"
	"github.com/berth-registry/berth/internal/compat/distribution/layouttest"
	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

// fixture is a Distribution layout with every case adoption meets.
type fixture struct {
	root                           string
	v1, moved, child1, child2, idx digest.Digest
	referrer, noBlob, schema1      digest.Digest
	missingManifest, missingLayer  digest.Digest
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{root: t.TempDir()}
	l := &layouttest.Layout{Root: f.root}
	d := must[digest.Digest](t)
	f.moved = d(l.Image("app/img", "old", 1, "v1"))
	f.v1 = d(l.Image("app/img", "new", 2, "v1", "latest")) // v1 moved: the old one is untagged
	f.child1 = d(l.Image("app/multi", "amd64", 1))
	f.child2 = d(l.Image("app/multi", "arm64", 1))
	f.idx = d(l.Index("app/multi", []digest.Digest{f.child1, f.child2}, []int{300, 300}, "1.0"))
	// A referrer (untagged, as Distribution 2.8 keeps one) with a subject.
	cfg := d(l.Blob([]byte("{}")))
	if err := l.LayerLink("app/img", cfg); err != nil {
		t.Fatal(err)
	}
	f.referrer = d(l.Manifest("app/img", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"artifactType":"application/x-sig","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"`+cfg.String()+`","size":2},`+
		`"layers":[],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+f.v1.String()+`","size":1}}`)))
	// Dangling: a tag to a missing manifest, a manifest naming a missing
	// blob, a layer link to missing bytes; and a schema 1 manifest.
	f.missingManifest = digest.FromString("gone")
	if err := l.Tag("broken/repo", "gone", f.missingManifest); err != nil {
		t.Fatal(err)
	}
	f.missingLayer = digest.FromString("no bytes")
	if err := l.LayerLink("broken/repo", f.missingLayer); err != nil {
		t.Fatal(err)
	}
	f.noBlob = d(l.Manifest("broken/repo", []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"`+f.missingLayer.String()+`","size":8},"layers":[]}`), "nobytes"))
	f.schema1 = d(l.Manifest("broken/repo", []byte(`{"schemaVersion":1,"name":"broken/repo","tag":"old","fsLayers":[]}`), "old"))
	d(l.Image("broken/repo", "fine", 1, "fine"))
	return f
}

func (f *fixture) source(t *testing.T) *distribution.Source {
	d, err := filesystem.New(f.root)
	if err != nil {
		t.Fatal(err)
	}
	return distribution.NewSource(d)
}

func openStore(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func kinds(r *distribution.ImportReport) []string {
	var k []string
	for _, p := range r.Problems {
		k = append(k, p.Kind+" "+p.Repo+" "+p.Ref)
	}
	slices.Sort(k)
	return k
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	wantProblems := []string{
		distribution.ProblemLayer + " broken/repo " + f.missingLayer.String(),
		distribution.ProblemManifest + " broken/repo " + f.noBlob.String(),
		distribution.ProblemTag + " broken/repo gone",
		distribution.ProblemTag + " broken/repo nobytes",
		distribution.ProblemTag + " broken/repo old",
		distribution.ProblemUnsupported + " broken/repo " + f.schema1.String(),
	}
	slices.Sort(wantProblems)

	dry, err := distribution.NewImporter(f.source(t), nil, distribution.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.DryRun || !dry.Complete || dry.Manifests != 7 || dry.Tags != 4 || dry.Repositories != 3 {
		t.Errorf("dry run report %+v", dry)
	}
	if got := kinds(dry); !slices.Equal(got, wantProblems) {
		t.Errorf("dry run problems\n%q\nwant\n%q", got, wantProblems)
	}

	store := openStore(t)
	rep, err := distribution.NewImporter(f.source(t), store, distribution.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || rep.Manifests != 7 || rep.Tags != 4 || rep.Dangling != 5 || rep.Unsupported != 1 {
		t.Errorf("report %+v", rep)
	}
	if got := kinds(rep); !slices.Equal(got, wantProblems) {
		t.Errorf("problems\n%q\nwant\n%q", got, wantProblems)
	}
	for _, c := range []struct {
		repo, tag string
		want      digest.Digest
	}{{"app/img", "v1", f.v1}, {"app/img", "latest", f.v1}, {"app/multi", "1.0", f.idx}} {
		if got, err := store.ResolveTag(ctx, c.repo, c.tag); err != nil || got != c.want {
			t.Errorf("%s:%s = %s, %v; want %s", c.repo, c.tag, got, err, c.want)
		}
	}
	tags, _ := store.Tags(ctx, "broken/repo", "", 100)
	if !slices.Equal(tags, []string{"fine"}) {
		t.Errorf("broken/repo tags %q, want only fine", tags)
	}
	for _, m := range []struct {
		repo string
		d    digest.Digest
		mt   string
	}{{"app/img", f.moved, "application/vnd.oci.image.manifest.v1+json"}, {"app/multi", f.child1, ""},
		{"app/multi", f.idx, "application/vnd.oci.image.index.v1+json"}} {
		got, err := store.Manifest(ctx, m.repo, m.d)
		if err != nil {
			t.Errorf("untagged %s@%s not imported: %v", m.repo, m.d, err)
		} else if m.mt != "" && got.MediaType != m.mt {
			t.Errorf("%s@%s media type %q, want %q", m.repo, m.d, got.MediaType, m.mt)
		}
	}
	refs, err := store.Referrers(ctx, "app/img", f.v1, "")
	if err != nil || len(refs) != 1 || refs[0].Digest != f.referrer || refs[0].ArtifactType != "application/x-sig" {
		t.Errorf("referrers of v1: %+v, %v", refs, err)
	}
	if _, err := store.Blob(ctx, "app/multi", f.v1); err == nil {
		t.Error("a blob of another repository is readable in app/multi")
	}
	if ok, err := distribution.Adopted(ctx, store, ""); err != nil || !ok {
		t.Errorf("Adopted = %v, %v after a complete import", ok, err)
	}
	if ok, _ := distribution.Adopted(ctx, store, "filesystem:/elsewhere"); ok {
		t.Error("a database that imported one storage counts as having adopted another")
	}

	// Again: nothing new, nothing reported twice.
	again, err := distribution.NewImporter(f.source(t), store, distribution.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again.Manifests != 0 || again.Existing != 7 || again.Dangling != 5 {
		t.Errorf("second import %+v", again)
	}
}

// TestImportPhases: the manifests phase leaves tags alone and the run
// open; the next run resumes at the tags.
func TestImportPhases(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	store := openStore(t)
	rep, err := distribution.NewImporter(f.source(t), store, distribution.Options{Phase: distribution.PhaseManifests}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Complete || rep.Manifests != 7 || rep.Tags != 0 {
		t.Errorf("manifests phase %+v", rep)
	}
	if _, err := store.ResolveTag(ctx, "app/img", "v1"); err == nil {
		t.Error("the manifests phase pointed a tag")
	}
	if ok, _ := distribution.Adopted(ctx, store, ""); ok {
		t.Error("adopted after the manifests phase only")
	}
	j, _ := store.Job(ctx, distribution.JobName)
	var st struct{ Phase string }
	json.Unmarshal([]byte(j.Progress), &st)
	if !j.Running || st.Phase != "tags" {
		t.Errorf("job after the manifests phase: running %v, progress %s", j.Running, j.Progress)
	}
	rep, err = distribution.NewImporter(f.source(t), store, distribution.Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || !rep.Resumed || rep.Tags != 4 {
		t.Errorf("resumed run %+v", rep)
	}
	if got, err := store.ResolveTag(ctx, "app/img", "v1"); err != nil || got != f.v1 {
		t.Errorf("v1 = %s, %v", got, err)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p.Reason, "cycle") {
			t.Errorf("unexpected %v", p)
		}
	}
}

var _ meta.JobStore = (*sqlite.Store)(nil)
