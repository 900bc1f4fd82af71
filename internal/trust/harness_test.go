package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/meta/sqlite"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/storage"
	"github.com/berth-registry/berth/internal/storage/filesystem"
)

var ctx = context.Background()

// env is a registry service over SQLite and a directory with the trust
// service as its pull gate and OnPush hook.
type env struct {
	t     *testing.T
	store meta.Store
	reg   *registry.Service
	trust *Service
	// caller is what Options.Caller answers; role what RoleOf answers.
	caller [3]string
	role   string
	events []meta.AuditEvent
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newEnvOn(t, st, dir, true)
}

// newEnvOn is an instance over the given metadata store and blob
// directory (instances sharing both are a scale-out deployment).
func newEnvOn(t *testing.T, st meta.Store, dir string, single bool) *env {
	t.Helper()
	d, err := filesystem.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	blobs := storage.NewBlobs(d)
	e := &env{t: t, store: st}
	log := slog.New(slog.DiscardHandler)
	e.trust = New(st, blobs, Options{
		Caller: func(context.Context) (string, string, bool) { return e.caller[0], e.caller[1], e.caller[2] == "admin" },
		RoleOf: func(context.Context, string) string { return e.role },
		Record: func(ev meta.AuditEvent) { e.events = append(e.events, ev) },
	}, log)
	e.reg = registry.New(st, blobs, registry.Options{SingleInstance: single, PullGates: []registry.PullGate{e.trust},
		OnPush: []func(context.Context, *meta.Manifest, []string){e.trust.OnPush}}, log)
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go e.trust.Run(runCtx)
	return e
}

// blob pushes content and returns its descriptor.
func (e *env) blob(repo, mediaType string, content []byte) v1.Descriptor {
	e.t.Helper()
	d := digest.FromBytes(content)
	if _, err := e.reg.PushBlob(ctx, repo, d, int64(len(content)), bytes.NewReader(content)); err != nil {
		e.t.Fatal(err)
	}
	return v1.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(content))}
}

// manifest pushes an image manifest and returns it and its digest.
func (e *env) manifest(repo, ref string, m v1.Manifest) (digest.Digest, []byte) {
	e.t.Helper()
	m.SchemaVersion, m.MediaType = 2, v1.MediaTypeImageManifest
	body, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	if ref == "" {
		ref = digest.FromBytes(body).String()
	}
	res, err := e.reg.PutManifest(ctx, repo, ref, nil, v1.MediaTypeImageManifest, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Digest, body
}

// image pushes a small image tagged tag.
func (e *env) image(repo, tag string) (digest.Digest, []byte) {
	e.t.Helper()
	cfg := e.blob(repo, v1.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","tag":"`+tag+`"}`))
	layer := e.blob(repo, v1.MediaTypeImageLayerGzip, []byte("layer of "+tag))
	return e.manifest(repo, tag, v1.Manifest{Config: cfg, Layers: []v1.Descriptor{layer}})
}

// referrer attaches a signature blob to subject as an OCI 1.1 referrer.
func (e *env) referrer(repo string, subject digest.Digest, size int64, artifactType, layerType string, blob []byte) digest.Digest {
	e.t.Helper()
	cfg := e.blob(repo, v1.MediaTypeEmptyJSON, []byte("{}"))
	layer := e.blob(repo, layerType, blob)
	d, _ := e.manifest(repo, "", v1.Manifest{ArtifactType: artifactType, Config: cfg, Layers: []v1.Descriptor{layer},
		Subject: &v1.Descriptor{MediaType: v1.MediaTypeImageManifest, Digest: subject, Size: size}})
	e.settle()
	return d
}

// settle waits for the verifications OnPush enqueued.
func (e *env) settle() {
	e.t.Helper()
	for i := 0; i < 1000 && !e.trust.Idle(); i++ {
		time.Sleep(5 * time.Millisecond)
	}
}

// pull gets a manifest through the gate, as a client's pull.
func (e *env) pull(repo string, d digest.Digest) error {
	_, err := e.reg.GetManifest(registry.ForClient(ctx), repo, d.String())
	return err
}

func (e *env) material(project, name, kind, data string) {
	e.t.Helper()
	if _, err := e.trust.AddMaterial(ctx, meta.TrustMaterial{Project: project, Name: name, Kind: kind, Data: data}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rule(project string, r Rule) Rule {
	e.t.Helper()
	out, err := e.trust.AddRule(ctx, project, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}
