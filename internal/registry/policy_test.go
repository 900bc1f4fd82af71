package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// policyService is a service with the policy engine, over SQLite and a
// directory; uploads is where upload bytes go.
type policyService struct {
	*Service
	store   meta.Store
	engine  *policy.Engine
	uploads string
}

func newPolicyService(t *testing.T) *policyService {
	t.Helper()
	st, blobs, dir := testStores(t)
	log := slog.New(slog.DiscardHandler)
	e := policy.New(st, policy.Options{}, log)
	svc := New(st, blobs, Options{Policy: e, DeleteEnabled: true, SingleInstance: true, CacheBytes: 1 << 20}, log)
	return &policyService{Service: svc, store: st, engine: e, uploads: filepath.Join(dir, "blobs", "uploads")}
}

// blob pushes content to repo and returns its digest.
func (p *policyService) blob(t *testing.T, repo, content string) digest.Digest {
	t.Helper()
	d := digest.FromString(content)
	if _, err := p.PushBlob(ctx, repo, d, int64(len(content)), strings.NewReader(content)); err != nil {
		t.Fatalf("push blob to %s: %v", repo, err)
	}
	return d
}

// image returns a manifest over a config blob of repo, unique by name.
func (p *policyService) image(t *testing.T, repo, name string) []byte {
	t.Helper()
	cfg := p.blob(t, repo, "config of "+repo)
	return fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],`+
		`"annotations":{"name":%q}}`, cfg, len("config of "+repo), name)
}

func (p *policyService) push(repo, ref string, body []byte, tags ...string) error {
	_, err := p.PutManifest(ctx, repo, ref, tags, "application/vnd.oci.image.manifest.v1+json", body)
	return err
}

func (p *policyService) resolve(t *testing.T, repo, tag string) digest.Digest {
	t.Helper()
	m, err := p.GetManifest(ctx, repo, tag)
	if err != nil {
		t.Fatalf("%s:%s: %v", repo, tag, err)
	}
	return m.Digest
}

// TestImmutableTags: each case of the immutability rule table.
func TestImmutableTags(t *testing.T) {
	p := newPolicyService(t)
	rule, err := p.engine.AddImmutableRule(ctx, meta.ImmutableRule{Project: "team", Repositories: "app/**", Tags: "v*"})
	if err != nil {
		t.Fatal(err)
	}
	// A rule of another project changes nothing here.
	p.engine.AddImmutableRule(ctx, meta.ImmutableRule{Project: "other", Tags: "**"})
	const repo = "team/app"
	m1, m2, m3 := p.image(t, repo, "one"), p.image(t, repo, "two"), p.image(t, repo, "three")
	d1, d2 := digest.FromBytes(m1), digest.FromBytes(m2)
	if err := p.push(repo, "v1", m1); err != nil {
		t.Fatalf("first push of an immutable tag: %v", err)
	}
	if err := p.push(repo, "latest", m2); err != nil {
		t.Fatal(err)
	}
	p.resolve(t, repo, "v1") // cached, so a refused move must not leave the cache wrong

	denied := func(t *testing.T, err error, op string) {
		t.Helper()
		var ie *policy.ImmutableError
		if !errors.As(err, &ie) || !errors.Is(err, policy.ErrTagImmutable) {
			t.Fatalf("got %v, want an immutability refusal", err)
		}
		for _, want := range []string{"v1", fmt.Sprintf("immutability rule %d", rule.ID), `tags "v*"`, op} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not mention %q", err, want)
			}
		}
	}
	tests := []struct {
		name string
		do   func() error
		op   string // "" when allowed
	}{
		{"overwrite by tag", func() error { return p.push(repo, "v1", m2) }, "overwritten"},
		{"overwrite by digest with ?tag=", func() error { return p.push(repo, d2.String(), m2, "v1") }, "overwritten"},
		{"overwrite among other tags", func() error { return p.push(repo, "v1", m3, "latest", "new") }, "overwritten"},
		{"re-push of the same digest", func() error { return p.push(repo, "v1", m1) }, ""},
		{"same digest, more tags", func() error { return p.push(repo, d1.String(), m1, "v1", "stable") }, ""},
		{"delete the tag", func() error { return p.DeleteManifest(ctx, repo, "v1") }, "deleted"},
		{"delete a matching tag that does not exist", func() error {
			if err := p.DeleteManifest(ctx, repo, "v9"); !errors.Is(err, ErrManifestUnknown) {
				return fmt.Errorf("got %v, want ErrManifestUnknown", err)
			}
			return nil
		}, ""},
		{"delete the manifest it points at", func() error { return p.DeleteManifest(ctx, repo, d1.String()) }, "deleted"},
		{"move a tag that does not match", func() error { return p.push(repo, "latest", m3) }, ""},
		{"delete a tag that does not match", func() error { return p.DeleteManifest(ctx, repo, "stable") }, ""},
		{"delete a manifest no immutable tag points at", func() error { return p.DeleteManifest(ctx, repo, d2.String()) }, ""},
		{"delete the repository", func() error { return p.DeleteRepository(ctx, repo) }, "deleted"},
		{"an upload in progress survives a refused repository delete", func() error {
			u, err := p.StartUpload(ctx, repo, digest.SHA256)
			if err != nil {
				return err
			}
			if err := p.DeleteRepository(ctx, repo); err == nil {
				return errors.New("repository delete allowed")
			}
			body := []byte("still uploading")
			_, err = p.FinishUpload(ctx, repo, u.ID, digest.FromBytes(body), 0, int64(len(body)), bytes.NewReader(body))
			return err
		}, ""},
		{"a repository the rule does not select", func() error {
			if err := p.push("team/lib", "v1", p.image(t, "team/lib", "a")); err != nil {
				return err
			}
			return p.push("team/lib", "v1", p.image(t, "team/lib", "b"))
		}, ""},
		{"delete a repository the rule does not select", func() error { return p.DeleteRepository(ctx, "team/lib") }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if tc.op == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			} else {
				denied(t, err, tc.op)
			}
			if got := p.resolve(t, repo, "v1"); got != d1 {
				t.Fatalf("v1 now points at %s, want %s", got, d1)
			}
		})
	}
	if _, err := p.GetManifest(ctx, repo, digest.FromBytes(m3).String()); err != nil {
		t.Errorf("m3 was pushed by moving latest: %v", err)
	}
	// Once the rule is gone, the tag moves and goes like any other.
	if err := p.engine.DeleteImmutableRule(ctx, "team", rule.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.push(repo, "v1", m2); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteManifest(ctx, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	if err := p.DeleteRepository(ctx, repo); err != nil {
		t.Fatalf("delete the repository once no rule protects it: %v", err)
	}
}

func (p *policyService) quota(t *testing.T, project string, bytes, repos, manifests int64) {
	t.Helper()
	if err := p.engine.SetQuota(ctx, meta.Quota{Project: project, StorageBytes: bytes, Repositories: repos, Manifests: manifests}); err != nil {
		t.Fatal(err)
	}
}

// nothingPartial checks no upload bytes and no upload session remain.
func (p *policyService) nothingPartial(t *testing.T, repo, id string) {
	t.Helper()
	entries, _ := os.ReadDir(p.uploads)
	if len(entries) != 0 {
		t.Errorf("%d upload files remain", len(entries))
	}
	if id != "" {
		if _, err := p.UploadStatus(ctx, repo, id); !errors.Is(err, ErrUploadUnknown) {
			t.Errorf("refused upload session still there: %v", err)
		}
	}
}

func wantQuota(t *testing.T, err error, limit string) *policy.QuotaError {
	t.Helper()
	var qe *policy.QuotaError
	if !errors.As(err, &qe) || qe.Limit != limit || !errors.Is(err, policy.ErrQuotaExceeded) {
		t.Fatalf("got %v, want a %s quota refusal", err, limit)
	}
	return qe
}

func size(n int) string { return strings.Repeat("x", n-3) + fmt.Sprintf("%03d", n%1000) }

// TestStorageQuota: every way bytes come into a project is checked before
// the bytes stream, and a refusal leaves nothing behind.
func TestStorageQuota(t *testing.T) {
	p := newPolicyService(t)
	p.quota(t, "q", 1000, meta.Unlimited, meta.Unlimited)
	first := p.blob(t, "q/a", size(600))

	// Monolithic push with a length over the quota.
	big := size(500)
	_, err := p.PushBlob(ctx, "q/a", digest.FromString(big), 500, strings.NewReader(big))
	qe := wantQuota(t, err, policy.LimitStorage)
	if qe.Used != 600 || qe.Max != 1000 || qe.Adding != 500 || !strings.Contains(err.Error(), "600 bytes used of 1000 bytes, this push adds 500 bytes") {
		t.Errorf("refusal = %+v: %v", qe, err)
	}
	p.nothingPartial(t, "", "")
	// Content the project holds already adds nothing, in any repository.
	if _, err := p.PushBlob(ctx, "q/b", first, 600, strings.NewReader(size(600))); err != nil {
		t.Fatalf("same blob into another repository of the project: %v", err)
	}
	// Monolithic push of unknown length: stopped at the quota.
	_, err = p.PushBlob(ctx, "q/a", digest.FromString(big), -1, strings.NewReader(big))
	wantQuota(t, err, policy.LimitStorage)
	p.nothingPartial(t, "", "")

	// A chunk whose length would exceed: refused before it is read.
	u, err := p.StartUpload(ctx, "q/a", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteUpload(ctx, "q/a", u.ID, 0, 300, strings.NewReader(size(300))); err != nil {
		t.Fatal(err)
	}
	unread := &countingReader{r: strings.NewReader(size(200))}
	_, err = p.WriteUpload(ctx, "q/a", u.ID, 300, 200, unread)
	wantQuota(t, err, policy.LimitStorage)
	if unread.n != 0 {
		t.Errorf("%d bytes of a refused chunk were read", unread.n)
	}
	p.nothingPartial(t, "q/a", u.ID)

	// A chunk of unknown length: stopped when it passes the quota.
	u, _ = p.StartUpload(ctx, "q/a", "")
	_, err = p.WriteUpload(ctx, "q/a", u.ID, -1, -1, strings.NewReader(size(401)))
	wantQuota(t, err, policy.LimitStorage)
	p.nothingPartial(t, "q/a", u.ID)

	// The last chunk of a PUT.
	u, _ = p.StartUpload(ctx, "q/a", "")
	p.WriteUpload(ctx, "q/a", u.ID, 0, 200, strings.NewReader(size(200)))
	_, err = p.FinishUpload(ctx, "q/a", u.ID, digest.FromString("whatever"), 200, 300, strings.NewReader(size(300)))
	wantQuota(t, err, policy.LimitStorage)
	p.nothingPartial(t, "q/a", u.ID)

	// Exactly up to the quota is fine; then the project is full and a new
	// upload is refused at once.
	u, _ = p.StartUpload(ctx, "q/a", "")
	last := size(400)
	if _, err := p.FinishUpload(ctx, "q/a", u.ID, digest.FromString(last), -1, 400, strings.NewReader(last)); err != nil {
		t.Fatalf("filling the quota exactly: %v", err)
	}
	_, err = p.StartUpload(ctx, "q/c", "")
	qe = wantQuota(t, err, policy.LimitStorage)
	if !strings.Contains(err.Error(), "project q is at its storage quota: 1000 bytes used of 1000 bytes") {
		t.Errorf("message %q", err)
	}
	// Another project is not affected.
	if _, err := p.StartUpload(ctx, "other/a", ""); err != nil {
		t.Fatal(err)
	}

	// Mounting from another project brings bytes in: checked too.
	ext := p.blob(t, "other/a", size(50))
	_, err = p.MountBlob(ctx, "q/a", "other/a", ext)
	wantQuota(t, err, policy.LimitStorage)
	if _, err := p.store.Blob(ctx, "q/a", ext); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("refused mount linked the blob: %v", err)
	}
	// A manifest is bytes too.
	err = p.push("q/a", "v1", p.image(t, "other/a", "x")) // its config is not in q/a, but the quota speaks first
	wantQuota(t, err, policy.LimitStorage)

	// Deleting frees at once: the next check computes the usage afresh.
	if err := p.DeleteBlob(ctx, "q/a", digest.FromString(last)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.StartUpload(ctx, "q/c", ""); err != nil {
		t.Fatalf("upload after freeing space: %v", err)
	}
	if u, _ := p.engine.ProjectUsage(ctx, "q"); u.StorageBytes != 600 {
		t.Errorf("usage after delete = %d, want 600", u.StorageBytes)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += n
	return n, err
}

// TestCountQuotas: the repository and manifest limits.
func TestCountQuotas(t *testing.T) {
	p := newPolicyService(t)
	p.quota(t, "c", meta.Unlimited, 2, 3)
	m := p.image(t, "c/a", "a1")
	if err := p.push("c/a", "1", m); err != nil {
		t.Fatal(err)
	}
	p.blob(t, "c/b", "b")
	_, err := p.StartUpload(ctx, "c/c", "")
	qe := wantQuota(t, err, policy.LimitRepositories)
	if qe.Used != 2 || qe.Max != 2 || !strings.Contains(err.Error(), "project c repositories quota exceeded: 2 of 2 used") {
		t.Errorf("refusal %v", err)
	}
	if _, err := p.StartUpload(ctx, "c/a", ""); err != nil {
		t.Fatalf("upload into an existing repository: %v", err)
	}
	for _, name := range []string{"a2", "a3"} {
		if err := p.push("c/a", name, p.image(t, "c/a", name)); err != nil {
			t.Fatal(err)
		}
	}
	err = p.push("c/a", "4", p.image(t, "c/a", "a4"))
	wantQuota(t, err, policy.LimitManifests)
	// Re-pushing a manifest the repository has adds none.
	if err := p.push("c/a", "again", m); err != nil {
		t.Fatalf("re-push: %v", err)
	}
}

// TestQuotaUsageCache: with a usage cache, checks far from the limit reuse
// the usage, but a refusal is decided on a fresh one.
func TestQuotaUsageCache(t *testing.T) {
	p := newPolicyService(t)
	p.engine = policy.New(p.store, policy.Options{UsageCache: 1 << 62}, slog.New(slog.DiscardHandler))
	p.opts.Policy = p.engine
	p.quota(t, "q", 1000, meta.Unlimited, meta.Unlimited)
	a := p.blob(t, "q/a", size(700))
	// Deleted behind the engine's back (another instance): the cached
	// usage says 700, a fresh one 0; the refusal is re-checked and allowed.
	if err := p.store.UnlinkBlob(ctx, "q/a", a); err != nil {
		t.Fatal(err)
	}
	b := size(800)
	if _, err := p.PushBlob(ctx, "q/a", digest.FromString(b), 800, bytes.NewReader([]byte(b))); err != nil {
		t.Fatalf("a refusal on a stale usage: %v", err)
	}
	// Admitted blobs count in the cached usage until it is computed again.
	c := size(300)
	_, err := p.PushBlob(ctx, "q/a", digest.FromString(c), 300, strings.NewReader(c))
	wantQuota(t, err, policy.LimitStorage)
}
