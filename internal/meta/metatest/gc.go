package metatest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/meta"
)

// gcTests are the cases of the GCStore.
var gcTests = []struct {
	name string
	fn   func(t *testing.T, s meta.Store)
}{
	{"GCManifests", testGCManifests},
	{"GCLinks", testGCLinks},
	{"GCRenewedLink", testGCRenewedLink},
	{"GCBlobTombstones", testGCBlobs},
	{"GCOrphanBlobs", testGCOrphans},
	{"GCStaleUploads", testGCUploads},
	{"DeleteRepository", testDeleteRepository},
	{"DropBlobs", testDropBlobs},
}

// future is a policy under which everything existing is old enough.
func future(orphans bool) meta.GCPolicy {
	return meta.GCPolicy{Before: time.Now().Add(time.Hour), OrphanReferrers: orphans}
}

func manifestDigests(ms []meta.ManifestRef) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Repository+"@"+string(m.Digest)[7:15])
	}
	slices.Sort(out)
	return out
}

func short(repo, body string) string { return repo + "@" + string(dg(body))[7:15] }

func testGCManifests(t *testing.T, s meta.Store) {
	put := func(m *meta.Manifest, tags ...string) {
		t.Helper()
		if err := s.PutManifest(ctx, m, tags); err != nil {
			t.Fatal(err)
		}
	}
	put(manifest("r", "tagged"), "latest")
	put(manifest("r", "untagged"))
	put(manifest("r", "child"))
	index := manifest("r", "index")
	index.Children = []digest.Digest{dg("child")}
	put(index, "multi")
	sig := manifest("r", "signature")
	sig.Subject = dg("tagged")
	put(sig)
	orphan := manifest("r", "orphan-sig")
	orphan.Subject = dg("gone")
	put(orphan)
	put(manifest("other", "child")) // same digest as r's child, in another repository: not listed there

	list := func(p meta.GCPolicy) []meta.ManifestRef {
		t.Helper()
		var all []meta.ManifestRef
		var after int64
		for {
			page, err := s.GCManifests(ctx, p, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) == 0 {
				return all
			}
			all = append(all, page...)
			after = page[len(page)-1].ID
		}
	}
	if got := list(meta.GCPolicy{Before: time.Now().Add(-time.Hour)}); len(got) != 0 {
		t.Fatalf("manifests newer than the grace period listed: %v", manifestDigests(got))
	}
	want := []string{short("other", "child"), short("r", "untagged")}
	slices.Sort(want)
	if got := manifestDigests(list(future(false))); !slices.Equal(got, want) {
		t.Fatalf("collectable = %v, want %v", got, want)
	}
	want = append(want, short("r", "orphan-sig"))
	slices.Sort(want)
	got := list(future(true))
	if !slices.Equal(manifestDigests(got), want) {
		t.Fatalf("collectable with orphan referrers = %v, want %v", manifestDigests(got), want)
	}
	// Between listing and deleting, "untagged" gets a tag: it stays.
	put(manifest("r", "untagged"), "now-tagged")
	deleted, err := s.DeleteGCManifests(ctx, future(true), got)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{short("other", "child"), short("r", "orphan-sig")}
	slices.Sort(want)
	if !slices.Equal(manifestDigests(deleted), want) {
		t.Fatalf("deleted = %v, want %v", manifestDigests(deleted), want)
	}
	if _, err := s.Manifest(ctx, "r", dg("untagged")); err != nil {
		t.Fatalf("re-tagged manifest deleted: %v", err)
	}
	if _, err := s.Manifest(ctx, "r", dg("orphan-sig")); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("deleted manifest still there: %v", err)
	}
	// Deleting the index frees its child in the next pass.
	if err := s.DeleteTag(ctx, "r", "multi"); err != nil {
		t.Fatal(err)
	}
	first := list(future(false))
	if got := manifestDigests(first); !slices.Equal(got, []string{short("r", "index")}) {
		t.Fatalf("after untagging the index: %v", got)
	}
	s.DeleteGCManifests(ctx, future(false), first)
	if got := manifestDigests(list(future(false))); !slices.Equal(got, []string{short("r", "child")}) {
		t.Fatalf("after deleting the index: %v", got)
	}
}

func links(t *testing.T, s meta.Store, p meta.GCPolicy) []meta.BlobLink {
	t.Helper()
	var all []meta.BlobLink
	var after meta.BlobLink
	for {
		page, err := s.GCLinks(ctx, p, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1]
	}
}

func linkNames(ls []meta.BlobLink) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Repository+"@"+string(l.Digest)[7:15])
	}
	slices.Sort(out)
	return out
}

func testGCLinks(t *testing.T, s meta.Store) {
	used := mustPutBlob(t, s, "r", "used")
	mustPutBlob(t, s, "r", "loose")
	mustPutBlob(t, s, "r", "late")
	mustPutBlob(t, s, "q", "used") // linked in q, not used by any manifest of q
	if err := s.PutManifest(ctx, manifest("r", "m", used), []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	if got := links(t, s, meta.GCPolicy{Before: time.Now().Add(-time.Hour)}); len(got) != 0 {
		t.Fatalf("new links listed: %v", linkNames(got))
	}
	got := links(t, s, future(false))
	want := []string{short("q", "used"), short("r", "late"), short("r", "loose")}
	slices.Sort(want)
	if !slices.Equal(linkNames(got), want) {
		t.Fatalf("unreferenced links = %v, want %v", linkNames(got), want)
	}
	// "late" gets used by a manifest before the delete: its link stays.
	if err := s.PutManifest(ctx, manifest("r", "m2", dg("late")), nil); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.DeleteGCLinks(ctx, future(false), got)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{short("q", "used"), short("r", "loose")}
	if !slices.Equal(linkNames(deleted), want) {
		t.Fatalf("deleted links = %v, want %v", linkNames(deleted), want)
	}
	// A manifest pushed now cannot use the deleted link.
	var missing *meta.MissingError
	if err := s.PutManifest(ctx, manifest("r", "m3", dg("loose")), nil); !errors.As(err, &missing) {
		t.Fatalf("manifest push over a collected link: %v", err)
	}
	if _, err := s.Blob(ctx, "r", used); err != nil {
		t.Fatalf("used blob: %v", err)
	}
}

func blobNames(bs []meta.Blob) []digest.Digest {
	var out []digest.Digest
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	slices.Sort(out)
	return out
}

func testGCBlobs(t *testing.T, s meta.Store) {
	keep := mustPutBlob(t, s, "r", "keep")
	gone := mustPutBlob(t, s, "r", "gone")
	if err := s.UnlinkBlob(ctx, "r", gone); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GCBlobs(ctx, meta.GCPolicy{Before: time.Now().Add(-time.Hour)}, "", 10); len(got) != 0 {
		t.Fatalf("new blobs listed: %v", got)
	}
	got, err := s.GCBlobs(ctx, future(false), "", 10)
	if err != nil || !slices.Equal(blobNames(got), []digest.Digest{gone}) {
		t.Fatalf("GCBlobs = %v, %v", blobNames(got), err)
	}
	marked, err := s.MarkBlobsDeleting(ctx, future(false), []digest.Digest{gone, keep})
	if err != nil || !slices.Equal(blobNames(marked), []digest.Digest{gone}) || marked[0].Size != 4 {
		t.Fatalf("MarkBlobsDeleting = %v, %v", marked, err)
	}
	// A tombstone: not listed, not readable, not counted, not linkable.
	if got, _ := s.GCBlobs(ctx, future(false), "", 10); len(got) != 0 {
		t.Fatalf("tombstone listed as collectable: %v", got)
	}
	if _, err := s.AnyBlob(ctx, gone); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("AnyBlob of a tombstone: %v", err)
	}
	if n, _, _ := s.BlobStats(ctx); n != 1 {
		t.Fatalf("BlobStats counts %d blobs, want 1", n)
	}
	if err := s.PutBlob(ctx, "r", meta.Blob{Digest: gone, Size: 4}); !errors.Is(err, meta.ErrBlobDeleting) {
		t.Fatalf("PutBlob of a tombstone: %v", err)
	}
	u := meta.Upload{ID: "u", Repository: "r", Algorithm: digest.SHA256}
	s.CreateUpload(ctx, u)
	if err := s.CompleteUpload(ctx, u, meta.Blob{Digest: gone, Size: 4}); !errors.Is(err, meta.ErrBlobDeleting) {
		t.Fatalf("CompleteUpload of a tombstone: %v", err)
	}
	if _, err := s.Upload(ctx, "r", "u"); err != nil {
		t.Fatalf("failed completion removed the session: %v", err)
	}
	if got, _ := s.DeletingBlobs(ctx, "", 10); !slices.Equal(blobNames(got), []digest.Digest{gone}) {
		t.Fatalf("DeletingBlobs = %v", got)
	}
	known, err := s.KnownBlobs(ctx, []digest.Digest{gone, keep, dg("never")})
	if err != nil || !known[gone] || !known[keep] || known[dg("never")] {
		t.Fatalf("KnownBlobs = %v, %v", known, err)
	}
	if all, _ := s.Blobs(ctx, "", 10); !slices.Equal(blobNames(all), []digest.Digest{keep}) {
		t.Fatalf("Blobs = %v", all)
	}
	if err := s.ForgetBlobs(ctx, []digest.Digest{gone, keep}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DeletingBlobs(ctx, "", 10); len(got) != 0 {
		t.Fatalf("tombstone left: %v", got)
	}
	if _, err := s.AnyBlob(ctx, keep); err != nil {
		t.Fatalf("ForgetBlobs removed a live blob: %v", err)
	}
	// Recorded anew, a blob row is only created when its file is stored.
	s.SetBlobCheck(func(_ context.Context, d digest.Digest) error {
		if d == gone {
			return errors.New("no such file")
		}
		return nil
	})
	defer s.SetBlobCheck(nil)
	if err := s.PutBlob(ctx, "r", meta.Blob{Digest: gone, Size: 4}); !errors.Is(err, meta.ErrBlobDeleting) {
		t.Fatalf("PutBlob of a blob whose file is gone: %v", err)
	}
	if _, err := s.AnyBlob(ctx, gone); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("failed PutBlob left a row: %v", err)
	}
	mustPutBlob(t, s, "r", "fresh")
	mustPutBlob(t, s, "r", "keep") // an existing row is not checked
}

func testGCOrphans(t *testing.T, s meta.Store) {
	known := mustPutBlob(t, s, "r", "known")
	files := []meta.Blob{{Digest: known, Size: 5}, {Digest: dg("orphan"), Size: 6}}
	marked, err := s.MarkOrphanBlobs(ctx, files)
	if err != nil || !slices.Equal(blobNames(marked), []digest.Digest{dg("orphan")}) {
		t.Fatalf("MarkOrphanBlobs = %v, %v", marked, err)
	}
	if err := s.PutBlob(ctx, "r", meta.Blob{Digest: dg("orphan"), Size: 6}); !errors.Is(err, meta.ErrBlobDeleting) {
		t.Fatalf("PutBlob of an orphan being deleted: %v", err)
	}
	if err := s.ForgetBlobs(ctx, []digest.Digest{dg("orphan")}); err != nil {
		t.Fatal(err)
	}
	mustPutBlob(t, s, "r", "orphan")
}

func testGCUploads(t *testing.T, s meta.Store) {
	for _, id := range []string{"a", "b", "c"} {
		if err := s.CreateUpload(ctx, meta.Upload{ID: id, Repository: "r", Algorithm: digest.SHA256}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AcquireUpload(ctx, "r", "b", "writer", time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.StaleUploads(ctx, time.Now().Add(-time.Hour), "", 10); len(got) != 0 {
		t.Fatalf("fresh uploads listed: %v", got)
	}
	later := time.Now().Add(time.Hour)
	got, err := s.StaleUploads(ctx, later, "", 1)
	if err != nil || len(got) != 1 || got[0].ID != "a" {
		t.Fatalf("StaleUploads page 1 = %+v, %v", got, err)
	}
	if got, _ = s.StaleUploads(ctx, later, "a", 10); len(got) != 1 || got[0].ID != "c" {
		t.Fatalf("StaleUploads page 2 (b is leased) = %+v", got)
	}
	if ok, err := s.DeleteStaleUpload(ctx, "b", later); ok || err != nil {
		t.Fatalf("leased upload deleted: %v, %v", ok, err)
	}
	if ok, err := s.DeleteStaleUpload(ctx, "a", time.Now().Add(-time.Hour)); ok || err != nil {
		t.Fatalf("fresh upload deleted: %v, %v", ok, err)
	}
	if ok, err := s.DeleteStaleUpload(ctx, "a", later); !ok || err != nil {
		t.Fatalf("stale upload not deleted: %v, %v", ok, err)
	}
	known, err := s.KnownUploads(ctx, []string{"a", "b", "zz"})
	if err != nil || known["a"] || !known["b"] || known["zz"] {
		t.Fatalf("KnownUploads = %v, %v", known, err)
	}
}

func testDeleteRepository(t *testing.T, s meta.Store) {
	d := mustPutBlob(t, s, "p/app", "layer")
	mustPutBlob(t, s, "p/other", "layer")
	if err := s.PutManifest(ctx, manifest("p/app", "m", d), []string{"v2", "v1"}); err != nil {
		t.Fatal(err)
	}
	s.CreateUpload(ctx, meta.Upload{ID: "up", Repository: "p/app", Algorithm: digest.SHA256})
	// allow sees the tags inside the transaction; its error refuses the
	// delete and leaves everything as it was.
	errKept := errors.New("kept by a rule")
	var seen []string
	refuse := func(tags []string) error { seen = append(seen, tags...); return errKept }
	if _, err := s.DeleteRepository(ctx, "p/app", refuse); !errors.Is(err, errKept) {
		t.Fatalf("refused delete = %v, want the allow error", err)
	}
	if !slices.Equal(seen, []string{"v1", "v2"}) {
		t.Fatalf("allow saw %v, want [v1 v2]", seen)
	}
	if _, err := s.ResolveTag(ctx, "p/app", "v1"); err != nil {
		t.Fatalf("refused delete lost a tag: %v", err)
	}
	if _, err := s.Upload(ctx, "p/app", "up"); err != nil {
		t.Fatalf("refused delete lost the upload session: %v", err)
	}
	ids, err := s.DeleteRepository(ctx, "p/app", func([]string) error { return nil })
	if err != nil || !slices.Equal(ids, []string{"up"}) {
		t.Fatalf("DeleteRepository = %v, %v", ids, err)
	}
	if ok, _ := s.RepositoryExists(ctx, "p/app"); ok {
		t.Fatal("repository still exists")
	}
	if _, err := s.ResolveTag(ctx, "p/app", "v1"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("tag survived: %v", err)
	}
	if _, err := s.Blob(ctx, "p/other", d); err != nil {
		t.Fatalf("other repository lost its blob: %v", err)
	}
	if _, err := s.DeleteRepository(ctx, "p/app", nil); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("deleting again: %v", err)
	}
	// The blob is now linked only from p/other; after unlinking it there,
	// it is garbage.
	s.UnlinkBlob(ctx, "p/other", d)
	if got, _ := s.GCBlobs(ctx, future(false), "", 10); !slices.Equal(blobNames(got), []digest.Digest{d}) {
		t.Fatalf("GCBlobs after repository delete = %v", got)
	}
}

func testDropBlobs(t *testing.T, s meta.Store) {
	bad := mustPutBlob(t, s, "r", "corrupt")
	mustPutBlob(t, s, "q", "corrupt")
	if err := s.PutManifest(ctx, manifest("r", "img", bad), []string{"v1"}); err != nil {
		t.Fatal(err)
	}
	refs, err := s.DropBlobs(ctx, []digest.Digest{bad})
	if err != nil || len(refs) != 1 || refs[0].Repository != "r" || refs[0].Digest != dg("img") {
		t.Fatalf("DropBlobs = %+v, %v", refs, err)
	}
	if _, err := s.AnyBlob(ctx, bad); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("dropped blob: %v", err)
	}
	if _, err := s.Blob(ctx, "q", bad); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("dropped blob still linked: %v", err)
	}
	mustPutBlob(t, s, "r", "corrupt") // a re-push restores it
}

// testGCRenewedLink: a renewed link counts its grace period from the
// renewal (a client's HEAD found it and will push a manifest using it).
func testGCRenewedLink(t *testing.T, s meta.Store) {
	before := time.Now()
	d := mustPutBlob(t, s, "r", "old")
	b, isManifest, err := s.BlobOrManifest(ctx, "r", d)
	if err != nil || isManifest || b.LinkedAt.Before(before.Add(-time.Minute)) || b.LinkedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("BlobOrManifest = %+v, %v, %v: want the link's time", b, isManifest, err)
	}
	renewed := time.Now().Add(2 * time.Hour)
	if err := s.RenewBlobLink(ctx, "r", d, renewed); err != nil {
		t.Fatal(err)
	}
	// GC from an hour ahead would have taken the link; renewed, it stays.
	if got := links(t, s, future(false)); len(got) != 0 {
		t.Fatalf("renewed link listed for GC: %v", linkNames(got))
	}
	all := links(t, s, meta.GCPolicy{Before: time.Now().Add(3 * time.Hour)})
	if len(all) != 1 {
		t.Fatalf("links from 3 h ahead = %v", linkNames(all))
	}
	if deleted, err := s.DeleteGCLinks(ctx, future(false), all); err != nil || len(deleted) != 0 {
		t.Fatalf("DeleteGCLinks of a renewed link = %v, %v", linkNames(deleted), err)
	}
	if b, _, _ := s.BlobOrManifest(ctx, "r", d); !b.LinkedAt.Equal(renewed) {
		t.Fatalf("LinkedAt = %v, want %v", b.LinkedAt, renewed)
	}
	// Renewal never moves a link back in time.
	if err := s.RenewBlobLink(ctx, "r", d, before); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := s.BlobOrManifest(ctx, "r", d); !b.LinkedAt.Equal(renewed) {
		t.Fatalf("LinkedAt moved back to %v", b.LinkedAt)
	}
	// No link, no renewal: another repository, an unknown digest, a
	// manifest's digest (not a link).
	if err := s.RenewBlobLink(ctx, "q", d, time.Now()); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("RenewBlobLink in another repository = %v", err)
	}
	if err := s.RenewBlobLink(ctx, "r", dg("unknown"), time.Now()); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("RenewBlobLink of an unknown blob = %v", err)
	}
	if err := s.PutManifest(ctx, manifest("r", "m", d), nil); err != nil {
		t.Fatal(err)
	}
	if b, isManifest, err := s.BlobOrManifest(ctx, "r", dg("m")); err != nil || !isManifest || !b.LinkedAt.IsZero() {
		t.Fatalf("BlobOrManifest of a manifest = %+v, %v, %v", b, isManifest, err)
	}
}
