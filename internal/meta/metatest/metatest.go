// Package metatest is the behavioural suite every meta.Store must pass
// (SQLite and PostgreSQL). A store's test calls Run with a
// constructor for a fresh, empty store.
package metatest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// Run runs the suite; newStore must return an empty store each call.
func Run(t *testing.T, newStore func(t *testing.T) meta.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s meta.Store)
	}{
		{"BlobsAreScopedToRepositories", testBlobScope},
		{"BlobOrManifest", testBlobOrManifest},
		{"MountBlob", testMount},
		{"UnlinkBlob", testUnlink},
		{"Uploads", testUploads},
		{"UploadConflict", testUploadConflict},
		{"UploadLease", testUploadLease},
		{"UploadLeaseRace", testUploadLeaseRace},
		{"PutManifestIsAtomic", testManifestAtomic},
		{"ManifestTagsAndDelete", testManifestTags},
		{"IndexNeedsChildren", testIndexChildren},
		{"Referrers", testReferrers},
		{"Pagination", testPagination},
		{"ConcurrentManifestPushes", testConcurrentPushes},
		{"ProxyCache", testProxyCache},
		{"ProxyEviction", testProxyEviction},
		{"Audit", testAudit},
		{"Anomaly", testAnomaly},
	}
	tests = append(tests, authTests...)
	tests = append(tests, jobTests...)
	tests = append(tests, gcTests...)
	tests = append(tests, policyTests...)
	tests = append(tests, sessionTests...)
	tests = append(tests, browseTests...)
	tests = append(tests, snapshotTests...)
	tests = append(tests, eventTests...)
	tests = append(tests, replicationTests...)
	tests = append(tests, sizeTests...)
	tests = append(tests, adoptTests...)
	tests = append(tests, oidcTests...)
	tests = append(tests, netRuleTests...)
	tests = append(tests, rateTests...)
	tests = append(tests, signingTests...)
	tests = append(tests, scanTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var ctx = context.Background()

func dg(s string) digest.Digest { return digest.FromString(s) }

func mustPutBlob(t *testing.T, s meta.Store, repo, content string) digest.Digest {
	t.Helper()
	d := dg(content)
	if err := s.PutBlob(ctx, repo, meta.Blob{Digest: d, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	return d
}

func manifest(repo, body string, blobs ...digest.Digest) *meta.Manifest {
	return &meta.Manifest{Repository: repo, Digest: dg(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Content: []byte(body), Blobs: blobs}
}

func testBlobScope(t *testing.T, s meta.Store) {
	d := mustPutBlob(t, s, "a/one", "layer")
	if b, err := s.Blob(ctx, "a/one", d); err != nil || b.Size != 5 {
		t.Fatalf("Blob in its repo = %+v, %v", b, err)
	}
	if _, err := s.Blob(ctx, "b/two", d); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Blob read from another repo: %v", err)
	}
	if _, err := s.AnyBlob(ctx, d); err != nil {
		t.Fatalf("AnyBlob: %v", err)
	}
	// BlobUnder sees the blob under its project only: "a_" and "ab" are
	// not "a", and a name with LIKE wildcards matches nothing else.
	if b, err := s.BlobUnder(ctx, "a", d); err != nil || b.Size != 5 {
		t.Fatalf("BlobUnder(a) = %+v, %v", b, err)
	}
	for _, p := range []string{"b", "ab", "a_", "a/one", "%", "_"} {
		if _, err := s.BlobUnder(ctx, p, d); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("BlobUnder(%q) found a blob of a/one: %v", p, err)
		}
	}
	// Recording it again (another push of the same content) is fine.
	mustPutBlob(t, s, "a/one", "layer")
	if n, bytes, err := s.BlobStats(ctx); err != nil || n != 1 || bytes != 5 {
		t.Fatalf("BlobStats = %d, %d, %v", n, bytes, err)
	}
	if ok, _ := s.RepositoryExists(ctx, "a/one"); !ok {
		t.Fatal("repository not created by PutBlob")
	}
}

// testBlobOrManifest: the blob endpoints' look-up finds a repository's
// blobs, then its manifests, and nothing of other repositories.
func testBlobOrManifest(t *testing.T, s meta.Store) {
	layer := mustPutBlob(t, s, "a/one", "layer")
	m := manifest("a/one", `{"manifest":1}`, layer)
	if err := s.PutManifest(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		repo     string
		d        digest.Digest
		size     int64
		manifest bool
		found    bool
	}{
		{"a/one", layer, 5, false, true},
		{"a/one", m.Digest, int64(len(m.Content)), true, true},
		{"b/two", layer, 0, false, false},
		{"b/two", m.Digest, 0, false, false},
		{"a/one", dg("nothing"), 0, false, false},
	} {
		b, isManifest, err := s.BlobOrManifest(ctx, tc.repo, tc.d)
		if !tc.found {
			if !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("BlobOrManifest(%s, %s) = %+v, %v; want ErrNotFound", tc.repo, tc.d, b, err)
			}
			continue
		}
		if err != nil || b.Digest != tc.d || b.Size != tc.size || isManifest != tc.manifest || b.CreatedAt.IsZero() {
			t.Errorf("BlobOrManifest(%s, %s) = %+v, %v, %v; want size %d, manifest %v", tc.repo, tc.d, b, isManifest, err, tc.size, tc.manifest)
		}
	}
}

func testMount(t *testing.T, s meta.Store) {
	d := mustPutBlob(t, s, "src", "shared")
	if _, err := s.MountBlob(ctx, "dst", "other", d); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("mount from a repo without the blob: %v", err)
	}
	if ok, _ := s.RepositoryExists(ctx, "dst"); ok {
		t.Fatal("failed mount created the target repository")
	}
	b, err := s.MountBlob(ctx, "dst", "src", d)
	if err != nil || b.Size != 6 {
		t.Fatalf("MountBlob = %+v, %v", b, err)
	}
	if _, err := s.Blob(ctx, "dst", d); err != nil {
		t.Fatalf("mounted blob not readable: %v", err)
	}
}

func testUnlink(t *testing.T, s meta.Store) {
	d := mustPutBlob(t, s, "r", "x")
	if err := s.UnlinkBlob(ctx, "r", d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blob(ctx, "r", d); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("unlinked blob still readable: %v", err)
	}
	if err := s.UnlinkBlob(ctx, "r", d); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second unlink: %v", err)
	}
}

func testUploads(t *testing.T, s meta.Store) {
	u := meta.Upload{ID: "u1", Repository: "r", Algorithm: digest.SHA256, HashState: []byte("h0")}
	if err := s.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, "other", "u1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("upload visible from another repo: %v", err)
	}
	u.Size, u.HashState = 10, []byte("h1")
	if err := s.UpdateUpload(ctx, u, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Upload(ctx, "r", "u1")
	if err != nil || got.Size != 10 || string(got.HashState) != "h1" || got.Algorithm != digest.SHA256 {
		t.Fatalf("Upload = %+v, %v", got, err)
	}
	b := meta.Blob{Digest: dg("ten bytes!"), Size: 10}
	if err := s.CompleteUpload(ctx, got, b); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upload(ctx, "r", "u1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("completed upload still there: %v", err)
	}
	if _, err := s.Blob(ctx, "r", b.Digest); err != nil {
		t.Fatalf("completed blob not linked: %v", err)
	}
	if err := s.CompleteUpload(ctx, got, b); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("completing twice: %v", err)
	}
	if err := s.DeleteUpload(ctx, "r", "u1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("DeleteUpload of unknown: %v", err)
	}
}

func testUploadConflict(t *testing.T, s meta.Store) {
	u := meta.Upload{ID: "u2", Repository: "r", Algorithm: digest.SHA256}
	s.CreateUpload(ctx, u)
	u.Size = 5
	if err := s.UpdateUpload(ctx, u, 0); err != nil {
		t.Fatal(err)
	}
	u.Size = 9
	if err := s.UpdateUpload(ctx, u, 0); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("stale update = %v, want ErrConflict", err)
	}
	if err := s.UpdateUpload(ctx, meta.Upload{ID: "nope", Repository: "r"}, 0); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("update of unknown upload = %v", err)
	}
}

func testUploadLease(t *testing.T, s meta.Store) {
	if _, err := s.AcquireUpload(ctx, "r", "nope", "a", time.Minute); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("acquire unknown upload = %v, want ErrNotFound", err)
	}
	if err := s.ReleaseUpload(ctx, "r", "nope", "a"); err != nil {
		t.Fatalf("release unknown upload = %v", err)
	}
	u := meta.Upload{ID: "u3", Repository: "r", Algorithm: digest.SHA256, HashState: []byte("h0")}
	if err := s.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	u.Size, u.HashState = 7, []byte("h7")
	if err := s.UpdateUpload(ctx, u, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.AcquireUpload(ctx, "r", "u3", "a", time.Minute)
	if err != nil || got.Size != 7 || string(got.HashState) != "h7" || got.Algorithm != digest.SHA256 || got.ID != "u3" || got.Repository != "r" {
		t.Fatalf("acquire free lease = %+v, %v", got, err)
	}
	if _, err := s.AcquireUpload(ctx, "other", "u3", "a", time.Minute); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("acquire from another repo = %v, want ErrNotFound", err)
	}
	if _, err := s.AcquireUpload(ctx, "r", "u3", "b", time.Minute); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("acquire held lease = %v, want ErrConflict", err)
	}
	if _, err := s.AcquireUpload(ctx, "r", "u3", "a", time.Minute); err != nil {
		t.Fatalf("owner renewing its lease = %v", err)
	}
	// Saving progress is independent of the lease.
	u.Size = 9
	if err := s.UpdateUpload(ctx, u, 7); err != nil {
		t.Fatal(err)
	}
	// Only the owner releases.
	if err := s.ReleaseUpload(ctx, "r", "u3", "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcquireUpload(ctx, "r", "u3", "b", time.Minute); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("lease released by a non-owner = %v, want ErrConflict", err)
	}
	if err := s.ReleaseUpload(ctx, "r", "u3", "a"); err != nil {
		t.Fatal(err)
	}
	// Released: b takes it, briefly; once that expires, a takes it back.
	if got, err := s.AcquireUpload(ctx, "r", "u3", "b", 200*time.Millisecond); err != nil || got.Size != 9 {
		t.Fatalf("acquire released lease = %+v, %v", got, err)
	}
	if _, err := s.AcquireUpload(ctx, "r", "u3", "a", time.Minute); !errors.Is(err, meta.ErrConflict) {
		t.Fatalf("acquire before expiry = %v, want ErrConflict", err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := s.AcquireUpload(ctx, "r", "u3", "a", time.Minute); err != nil {
		t.Fatalf("acquire expired lease = %v", err)
	}
	if err := s.DeleteUpload(ctx, "r", "u3"); err != nil {
		t.Fatalf("delete leased upload: %v", err)
	}
	if _, err := s.AcquireUpload(ctx, "r", "u3", "a", time.Minute); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("acquire deleted upload = %v, want ErrNotFound", err)
	}
}

// testUploadLeaseRace: of writers racing for a free lease, exactly one wins.
func testUploadLeaseRace(t *testing.T, s meta.Store) {
	for round := range 5 {
		id := fmt.Sprintf("race-%d", round)
		if err := s.CreateUpload(ctx, meta.Upload{ID: id, Repository: "r", Algorithm: digest.SHA256}); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var winners []string
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				owner := fmt.Sprintf("w%d", i)
				_, err := s.AcquireUpload(ctx, "r", id, owner, time.Minute)
				switch {
				case err == nil:
					mu.Lock()
					winners = append(winners, owner)
					mu.Unlock()
				case !errors.Is(err, meta.ErrConflict):
					t.Errorf("%s: %v", owner, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: lease granted to %v, want exactly one writer", round, winners)
		}
	}
}

func testManifestAtomic(t *testing.T, s meta.Store) {
	have := mustPutBlob(t, s, "r", "config")
	m := manifest("r", "m1", have, dg("missing layer"))
	err := s.PutManifest(ctx, m, []string{"latest"})
	var missing *meta.MissingError
	if !errors.As(err, &missing) || missing.Digest != dg("missing layer") || !errors.Is(err, meta.ErrReferenceUnknown) {
		t.Fatalf("PutManifest with a missing blob = %v", err)
	}
	if _, err := s.Manifest(ctx, "r", m.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("refused manifest was stored: %v", err)
	}
	if _, err := s.ResolveTag(ctx, "r", "latest"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("refused manifest's tag was stored: %v", err)
	}
	if ok, _ := s.RepositoryExists(ctx, "fresh"); ok {
		t.Fatal("unexpected repo")
	}
	if err := s.PutManifest(ctx, manifest("fresh", "m2", dg("nothing")), nil); err == nil {
		t.Fatal("manifest into an empty repo accepted")
	}
	if ok, _ := s.RepositoryExists(ctx, "fresh"); ok {
		t.Fatal("refused manifest created its repository")
	}
}

func testManifestTags(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	m1 := manifest("r", "m1", c)
	m1.Annotations = map[string]string{"k": "v"}
	if err := s.PutManifest(ctx, m1, []string{"a", "b"}); err != nil {
		t.Fatal(err)
	}
	// Pushing the same manifest again is idempotent and may add tags.
	if err := s.PutManifest(ctx, manifest("r", "m1", c), []string{"c"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Manifest(ctx, "r", m1.Digest)
	if err != nil || string(got.Content) != "m1" || got.Annotations["k"] != "v" || got.MediaType != m1.MediaType {
		t.Fatalf("Manifest = %+v, %v", got, err)
	}
	m2 := manifest("r", "m2", c)
	if err := s.PutManifest(ctx, m2, []string{"b"}); err != nil { // move tag b
		t.Fatal(err)
	}
	if d, _ := s.ResolveTag(ctx, "r", "b"); d != m2.Digest {
		t.Fatalf("tag b = %s, want %s", d, m2.Digest)
	}
	if err := s.DeleteTag(ctx, "r", "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Manifest(ctx, "r", m1.Digest); err != nil {
		t.Fatalf("deleting a tag deleted its manifest: %v", err)
	}
	if err := s.DeleteManifest(ctx, "r", m1.Digest); err != nil {
		t.Fatal(err)
	}
	tags, err := s.Tags(ctx, "r", "", 100)
	if err != nil || !slices.Equal(tags, []string{"b"}) {
		t.Fatalf("Tags after delete = %v, %v", tags, err)
	}
	if err := s.DeleteManifest(ctx, "r", m1.Digest); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := s.Tags(ctx, "unknown", "", 10); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("Tags of unknown repo: %v", err)
	}
}

func testIndexChildren(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	child := manifest("r", "child", c)
	idx := &meta.Manifest{Repository: "r", Digest: dg("index"), MediaType: "application/vnd.oci.image.index.v1+json",
		Content: []byte("index"), Children: []digest.Digest{child.Digest}}
	var missing *meta.MissingError
	if err := s.PutManifest(ctx, idx, []string{"multi"}); !errors.As(err, &missing) || missing.Kind != "manifest" {
		t.Fatalf("index before its child = %v", err)
	}
	if err := s.PutManifest(ctx, child, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, idx, []string{"multi"}); err != nil {
		t.Fatal(err)
	}
}

func testReferrers(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	subject := dg("not pushed yet") // a subject need not exist
	for i, at := range []string{"application/sig", "application/sbom", "application/sig"} {
		m := manifest("r", fmt.Sprintf("ref-%d", i), c)
		m.Subject, m.ArtifactType = subject, at
		m.Annotations = map[string]string{"n": fmt.Sprint(i)}
		if err := s.PutManifest(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.Referrers(ctx, "r", subject, "")
	if err != nil || len(all) != 3 {
		t.Fatalf("Referrers = %v, %v", all, err)
	}
	if !slices.IsSortedFunc(all, func(a, b meta.Descriptor) int { return cmpString(a.Digest.String(), b.Digest.String()) }) {
		t.Error("referrers not ordered by digest")
	}
	sigs, err := s.Referrers(ctx, "r", subject, "application/sig")
	if err != nil || len(sigs) != 2 || sigs[0].ArtifactType != "application/sig" || sigs[0].Annotations["n"] == "" || sigs[0].Size == 0 {
		t.Fatalf("filtered Referrers = %+v, %v", sigs, err)
	}
	if none, err := s.Referrers(ctx, "other", subject, ""); err != nil || len(none) != 0 {
		t.Fatalf("Referrers in another repo = %v, %v", none, err)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testPagination(t *testing.T, s meta.Store) {
	names := []string{"b", "a/x", "a", "c-1", "a/y"}
	for _, n := range names {
		mustPutBlob(t, s, n, "blob")
	}
	var all []string
	last := ""
	for {
		page, err := s.Repositories(ctx, last, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		last = page[len(page)-1]
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Fatalf("paged repositories = %v, want %v", all, want)
	}
	c := dg("blob")
	for _, tag := range []string{"v2", "v10", "latest", "V1"} {
		if err := s.PutManifest(ctx, manifest("a", "m-"+tag, c), []string{tag}); err != nil {
			t.Fatal(err)
		}
	}
	tags, err := s.Tags(ctx, "a", "latest", 10)
	if err != nil || !slices.Equal(tags, []string{"v10", "v2"}) {
		t.Fatalf("Tags after latest = %v, %v", tags, err)
	}
}

func testConcurrentPushes(t *testing.T, s meta.Store) {
	c := mustPutBlob(t, s, "r", "config")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := manifest("r", fmt.Sprintf("m-%d", i), c)
			if err := s.PutManifest(ctx, m, []string{"same", fmt.Sprintf("t%02d", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	tags, err := s.Tags(ctx, "r", "", 100)
	if err != nil || len(tags) != 17 {
		t.Fatalf("tags = %d (%v), want 17", len(tags), err)
	}
}
