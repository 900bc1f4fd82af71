package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// memRegistry is an Endpoint in memory: manifests by repository and
// reference (tags and digests), blobs by digest. Without tagDelete it
// refuses to delete a tag alone, without referrersAPI it has no referrers
// API (as Distribution 2.8).
type memRegistry struct {
	mu           sync.Mutex
	manifests    map[string]map[string]Manifest
	blobs        map[digest.Digest][]byte
	tagDelete    bool
	referrersAPI bool
	puts         int
}

func newMem(tagDelete, referrersAPI bool) *memRegistry {
	return &memRegistry{manifests: map[string]map[string]Manifest{}, blobs: map[digest.Digest][]byte{}, tagDelete: tagDelete, referrersAPI: referrersAPI}
}

func (m *memRegistry) Repositories(context.Context) ([]string, error) { return nil, ErrUnsupported }

func (m *memRegistry) Tags(_ context.Context, repo string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for ref := range m.manifests[repo] {
		if !strings.Contains(ref, ":") {
			out = append(out, ref)
		}
	}
	return out, nil
}

func (m *memRegistry) Manifest(_ context.Context, repo, ref string) (Manifest, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if mf, ok := m.manifests[repo][ref]; ok {
		return mf, nil
	}
	return Manifest{}, fmt.Errorf("%w: %s:%s", ErrNotFound, repo, ref)
}

func (m *memRegistry) ManifestDigest(ctx context.Context, repo, ref string) (digest.Digest, error) {
	mf, err := m.Manifest(ctx, repo, ref)
	return mf.Digest, err
}

func (m *memRegistry) PutManifest(_ context.Context, repo, ref string, mf Manifest) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.manifests[repo] == nil {
		m.manifests[repo] = map[string]Manifest{}
	}
	m.manifests[repo][ref] = mf
	m.manifests[repo][mf.Digest.String()] = mf
	m.puts++
	return m.referrersAPI, nil
}

func (m *memRegistry) DeleteManifest(_ context.Context, repo, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	mf, ok := m.manifests[repo][ref]
	if !ok {
		return ErrNotFound
	}
	if !strings.Contains(ref, ":") {
		if !m.tagDelete {
			return ErrUnsupported
		}
		delete(m.manifests[repo], ref)
		return nil
	}
	for r, x := range m.manifests[repo] {
		if x.Digest == mf.Digest {
			delete(m.manifests[repo], r)
		}
	}
	return nil
}

func (m *memRegistry) HasBlob(_ context.Context, _ string, d digest.Digest) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blobs[d]
	return ok, nil
}

func (m *memRegistry) OpenBlob(_ context.Context, _ string, d digest.Digest) (io.ReadCloser, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[d]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), int64(len(b)), nil
}

func (m *memRegistry) PutBlob(_ context.Context, _ string, d digest.Digest, _ int64, r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if digest.FromBytes(b) != d {
		return errors.New("digest mismatch")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blobs[d] = b
	return nil
}

func (m *memRegistry) MountBlob(context.Context, string, string, digest.Digest) (bool, error) {
	return false, nil
}

func (m *memRegistry) Referrers(_ context.Context, repo string, d digest.Digest) ([]v1.Descriptor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []v1.Descriptor
	seen := map[digest.Digest]bool{}
	for _, mf := range m.manifests[repo] {
		var doc struct {
			Subject *v1.Descriptor `json:"subject"`
		}
		if json.Unmarshal(mf.Content, &doc) == nil && doc.Subject != nil && doc.Subject.Digest == d && !seen[mf.Digest] {
			seen[mf.Digest] = true
			out = append(out, v1.Descriptor{MediaType: mf.MediaType, Digest: mf.Digest, Size: int64(len(mf.Content))})
		}
	}
	return out, nil
}

// image puts a one-layer image under tag and returns its manifest.
func (m *memRegistry) image(t *testing.T, repo, tag, layer string, subject *Manifest) Manifest {
	t.Helper()
	cfg, l := []byte(`{}`), []byte(layer)
	m.blobs[digest.FromBytes(cfg)], m.blobs[digest.FromBytes(l)] = cfg, l
	doc := map[string]any{"schemaVersion": 2, "mediaType": v1.MediaTypeImageManifest,
		"config": v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		"layers": []v1.Descriptor{{MediaType: v1.MediaTypeImageLayer, Digest: digest.FromBytes(l), Size: int64(len(l))}}}
	if subject != nil {
		doc["subject"] = v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: int64(len(subject.Content))}
		doc["artifactType"] = "application/vnd.example.sbom"
	}
	b, _ := json.Marshal(doc)
	mf := Manifest{MediaType: v1.MediaTypeImageManifest, Digest: digest.FromBytes(b), Content: b}
	ref := tag
	if ref == "" {
		ref = mf.Digest.String()
	}
	m.PutManifest(context.Background(), repo, ref, mf)
	return mf
}

func testCopier(src, dst *memRegistry, override bool) *copier {
	return &copier{src: src, dst: dst, srcRepo: "app", dstRepo: "mirror/app", f: &filter{}, referrers: true, override: override, mounts: &mountCache{}}
}

func TestCopyTagWithReferrers(t *testing.T) {
	ctx := context.Background()
	src, dst := newMem(true, true), newMem(false, false)
	img := src.image(t, "app", "v1", "layer one", nil)
	sbom := src.image(t, "app", "", "sbom", &img)
	sig := src.image(t, "app", fallbackTag(img.Digest)+".sig", "signature", nil)

	c := testCopier(src, dst, true)
	if err := c.copyRef(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]digest.Digest{"v1": img.Digest, sbom.Digest.String(): sbom.Digest, fallbackTag(img.Digest) + ".sig": sig.Digest} {
		if got, err := dst.ManifestDigest(ctx, "mirror/app", ref); err != nil || got != want {
			t.Errorf("%s at the destination: %s, %v; want %s", ref, got, err, want)
		}
	}
	if c.bytes.Load() == 0 {
		t.Error("no bytes counted")
	}
	// No referrers API at the destination: the tag scheme lists the SBOM.
	idx, err := dst.Manifest(ctx, "mirror/app", fallbackTag(img.Digest))
	if err != nil || !strings.Contains(string(idx.Content), sbom.Digest.String()) {
		t.Fatalf("referrers tag: %s, %v", idx.Content, err)
	}

	// Again: nothing to do.
	puts := dst.puts
	if err := testCopier(src, dst, true).copyRef(ctx, "v1"); !isSkip(err, "up to date") || dst.puts != puts {
		t.Fatalf("second copy: %v (%d puts)", err, dst.puts-puts)
	}
	// The tag moves at the source; with override off the destination keeps its own.
	src.image(t, "app", "v1", "layer two", nil)
	if err := testCopier(src, dst, false).copyRef(ctx, "v1"); !isSkip(err, "override is off") {
		t.Fatalf("override off: %v", err)
	}
	if err := testCopier(src, dst, true).copyRef(ctx, "v1"); err != nil {
		t.Fatal(err)
	}
	// Untagged without a subject, or gone: skipped.
	loose := src.image(t, "app", "", "loose", nil)
	if err := testCopier(src, dst, true).copyRef(ctx, loose.Digest.String()); !isSkip(err, "untagged") {
		t.Fatalf("untagged: %v", err)
	}
	if err := testCopier(src, dst, true).copyRef(ctx, "nope"); !isSkip(err, "gone") {
		t.Fatalf("gone: %v", err)
	}
}

func isSkip(err error, reason string) bool {
	var s errSkip
	return errors.As(err, &s) && strings.Contains(s.reason, reason)
}

func TestDeleteRef(t *testing.T) {
	ctx := context.Background()
	src := newMem(true, true)
	dst := newMem(false, false) // cannot delete a tag alone
	a := dst.image(t, "mirror/app", "a", "one", nil)
	dst.PutManifest(ctx, "mirror/app", "a-alias", a)
	dst.image(t, "mirror/app", "b", "two", nil)
	c := testCopier(src, dst, true)
	if err := c.deleteRef(ctx, "a"); !isSkip(err, "a-alias points at") {
		t.Fatalf("shared digest: %v", err)
	}
	if err := c.deleteRef(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Manifest(ctx, "mirror/app", "b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b after its deletion: %v", err)
	}
	if err := c.deleteRef(ctx, "b"); !isSkip(err, "already gone") {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := dst.Manifest(ctx, "mirror/app", "a"); err != nil {
		t.Fatalf("a was deleted: %v", err)
	}
}

func TestLimiter(t *testing.T) {
	l := newLimiter(1 << 20) // 1 MiB/s
	var n atomic.Int64
	r := &countingReader{r: bytes.NewReader(make([]byte, 300<<10)), ctx: context.Background(), limit: l, n: &n}
	start := time.Now()
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("300 KiB at 1 MiB/s took %v", d)
	}
	if n.Load() != 300<<10 {
		t.Fatalf("counted %d bytes", n.Load())
	}
	if newLimiter(0) != nil || newLimiter(0).wait(context.Background(), 1<<30) != nil {
		t.Fatal("no limit limits")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newLimiter(1024).wait(ctx, 1<<20); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
}
