package gc_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc"
	"github.com/berth-registry/berth/internal/gc/gctest"
	"github.com/berth-registry/berth/internal/meta/postgres/pgtest"
	"github.com/berth-registry/berth/internal/storage"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var ctx = context.Background()

// backends runs fn against SQLite and PostgreSQL (each with the filesystem driver).
func backends(t *testing.T, edit func(*config.Config), fn func(t *testing.T, s *apptest.Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, apptest.Start(t, edit)) })
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.Start(t)
		fn(t, apptest.Start(t, func(c *config.Config) {
			c.Database.Driver, c.Database.Postgres.DSN = "postgres", dsn
			if edit != nil {
				edit(c)
			}
		}))
	})
}

func newClient(s *apptest.Server) *gctest.Client {
	return &gctest.Client{Base: s.URL, HTTP: s.Client()}
}

func mustDo(t *testing.T, c *gctest.Client, method, path string, body string) (int, string) {
	t.Helper()
	resp, b, err := c.Do(method, path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// storedBlobs lists the blob files in storage.
func storedBlobs(t *testing.T, s *apptest.Server) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	root := s.Config.Storage.Filesystem.Root
	filepath.WalkDir(filepath.Join(root, "blobs"), func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			out = append(out, digest.NewDigestFromEncoded(digest.SHA256, e.Name()))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func age(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

// What goes and what stays: a tagged image stays; an untagged one goes
// with its unshared blobs; a shared layer stays; an orphaned file, an
// abandoned session and an ownerless upload file go. The dry run deletes
// nothing and reports the first pass.
func TestCollect(t *testing.T) {
	backends(t, func(c *config.Config) { c.GC.GracePeriod = 0 }, func(t *testing.T, s *apptest.Server) {
		c := newClient(s)
		shared := []byte("shared layer")
		keep := gctest.NewImage("app/web", "v1", shared, []byte("keep layer"))
		drop := gctest.NewImage("app/web", "v0", shared, []byte("drop layer"))
		for _, img := range []*gctest.Image{keep, drop} {
			if err := c.Push(img, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.DeleteTag("app/web", "v0"); err != nil {
			t.Fatal(err)
		}
		root := s.Config.Storage.Filesystem.Root
		// A file nothing records (a crash between commit and row).
		orphan := []byte("orphan")
		orphanPath := filepath.Join(root, filepath.FromSlash(storage.BlobPath(digest.FromBytes(orphan))))
		os.MkdirAll(filepath.Dir(orphanPath), 0o755)
		os.WriteFile(orphanPath, orphan, 0o644)
		age(t, orphanPath)
		// An ownerless upload file (a monolithic push that died).
		os.MkdirAll(filepath.Join(root, "uploads"), 0o755)
		os.WriteFile(filepath.Join(root, "uploads", "dead"), []byte("partial"), 0o644)
		age(t, filepath.Join(root, "uploads", "dead"))
		// A fresh ownerless upload file stays (a monolithic push in flight).
		os.WriteFile(filepath.Join(root, "uploads", "live"), []byte("partial"), 0o644)
		before := storedBlobs(t, s)

		dry, err := s.App.GC().Run(ctx, true, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if dry.Manifests != 1 || dry.OrphanFiles != 1 || dry.UploadFiles != 1 || !dry.DryRun {
			t.Fatalf("dry run report = %+v", dry)
		}
		if got := storedBlobs(t, s); !slices.Equal(got, before) {
			t.Fatalf("dry run deleted files: %d -> %d", len(before), len(got))
		}

		rep, err := s.App.GC().Run(ctx, false, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		// drop's manifest; its config and layer (links then blobs); the orphan.
		if rep.Manifests != 1 || rep.Links != 2 || rep.Blobs != 2 || rep.OrphanFiles != 1 || rep.UploadFiles != 1 || rep.Failures != 0 {
			t.Fatalf("report = %+v", rep)
		}
		want := []digest.Digest{}
		for d := range keep.Blobs {
			want = append(want, d)
		}
		slices.Sort(want)
		if got := storedBlobs(t, s); !slices.Equal(got, want) {
			t.Fatalf("stored blobs after gc = %v, want %v", got, want)
		}
		if err := c.Pull(keep); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(root, "uploads", "live")); err != nil {
			t.Fatalf("fresh upload file deleted: %v", err)
		}
		// The dropped image can be pushed again (its blobs come back).
		if err := c.Push(drop, ""); err != nil {
			t.Fatal(err)
		}
		if err := c.Pull(drop); err != nil {
			t.Fatal(err)
		}
	})
}

// Nothing younger than the grace period goes: blobs uploaded without a
// manifest yet, untagged manifests just pushed.
func TestGracePeriodProtectsNewContent(t *testing.T) {
	backends(t, nil, func(t *testing.T, s *apptest.Server) {
		c := newClient(s)
		if err := c.PushBlob("r", []byte("layer pushed before its manifest"), ""); err != nil {
			t.Fatal(err)
		}
		img := gctest.NewImage("r", "t", []byte("l"))
		if err := c.Push(img, ""); err != nil {
			t.Fatal(err)
		}
		c.DeleteTag("r", "t")
		rep, err := s.App.GC().Run(ctx, false, "", nil)
		if err != nil || rep.Manifests+rep.Links+rep.Blobs != 0 {
			t.Fatalf("gc within the grace period: %+v, %v", rep, err)
		}
	})
}

// A client that finds its repository's old link to a blob with a HEAD
// skips the upload and pushes its manifest next: the HEAD renews the link,
// so a GC run in between cannot take it (the manifest would fail with
// MANIFEST_BLOB_UNKNOWN). A link nobody asked about goes as before.
func TestHeadRenewsLink(t *testing.T) {
	const grace = 600 * time.Millisecond
	backends(t, func(c *config.Config) { c.GC.GracePeriod = grace }, func(t *testing.T, s *apptest.Server) {
		c := newClient(s)
		img := gctest.NewImage("r", "v1", []byte("layer found by a HEAD"))
		idle := []byte("layer nobody asks about")
		for _, b := range append(slices.Collect(maps.Values(img.Blobs)), idle) {
			if err := c.PushBlob("r", b, ""); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(grace + 100*time.Millisecond)
		for d := range img.Blobs {
			if code, body := mustDo(t, c, "HEAD", "/v2/r/blobs/"+d.String(), ""); code != http.StatusOK {
				t.Fatalf("HEAD %s: %d %s", d, code, body)
			}
		}
		rep, err := s.App.GC().Run(ctx, false, "", nil)
		if err != nil || rep.Links != 1 {
			t.Fatalf("gc: %+v, %v: want only the idle link collected", rep, err)
		}
		resp, body, err := c.Do("PUT", "/v2/r/manifests/v1", http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}, img.Manifest)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("manifest over renewed links: %v %v %s", err, resp, body)
		}
		if code, _ := mustDo(t, c, "HEAD", "/v2/r/blobs/"+digest.FromBytes(idle).String(), ""); code != http.StatusNotFound {
			t.Fatalf("HEAD of the collected link: %d", code)
		}
	})
}

// A run interrupted after any batch resumes from its saved progress and
// ends with the same totals as an uninterrupted run.
func TestResume(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.GC.GracePeriod, c.GC.BatchSize = 0, 2 })
	c := newClient(s)
	for i := range 6 {
		img := gctest.NewImage("r", "t", []byte{byte(i)}, []byte{byte(i), 1})
		if err := c.Push(img, ""); err != nil {
			t.Fatal(err)
		}
		c.DeleteTag("r", "t")
	}
	var saved string
	var rep gc.Report
	var err error
	for attempt := 0; ; attempt++ {
		saves := 0
		cctx, cancel := context.WithCancel(ctx)
		rep, err = s.App.GC().Run(cctx, false, saved, func(ctx context.Context, p string) error {
			saved = p
			if saves++; saves == 3 {
				cancel() // the instance dies after three batches
			}
			return ctx.Err()
		})
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) || attempt > 50 {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
	}
	// Six manifests sharing one config, twelve layers.
	if !rep.Resumed || rep.Manifests != 6 || rep.Links != 13 || rep.Blobs != 13 {
		t.Fatalf("resumed report = %+v", rep)
	}
	if n := len(storedBlobs(t, s)); n != 0 {
		t.Fatalf("%d blobs left", n)
	}
}

// POST /api/v1/gc runs GC as a background job; GET reports it.
func TestAPI(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.GC.GracePeriod, c.Jobs.Poll = 0, 50*time.Millisecond })
	c := newClient(s)
	img := gctest.NewImage("r", "t", []byte("layer"))
	c.Push(img, "")
	c.DeleteTag("r", "t")
	if code, body := mustDo(t, c, "POST", "/api/v1/gc", `{"dry_run": tru}`); code != 400 {
		t.Fatalf("bad body: %d %s", code, body)
	}
	last := func() *gc.Report {
		_, body := mustDo(t, c, "GET", "/api/v1/gc", "")
		var st gc.Status
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if st.Running || st.Pending {
			return nil
		}
		return st.Last
	}
	for _, dry := range []bool{true, false} {
		body := `{"dry_run": false}`
		if dry {
			body = `{"dry_run": true}`
		}
		if code, resp := mustDo(t, c, "POST", "/api/v1/gc", body); code != http.StatusAccepted || !strings.Contains(resp, `"pending":true`) {
			t.Fatalf("start: %d %s", code, resp)
		}
		deadline := time.Now().Add(10 * time.Second)
		var rep *gc.Report
		for rep = last(); rep == nil || rep.DryRun != dry; rep = last() {
			if time.Now().After(deadline) {
				t.Fatal("gc did not finish")
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A dry run sees one pass: the manifest, not yet the blobs it frees.
		if rep.Manifests != 1 || (!dry && rep.Blobs != 2) {
			t.Fatalf("report (dry run %v) = %+v", dry, rep)
		}
	}
	if n := len(storedBlobs(t, s)); n != 0 {
		t.Fatalf("%d blobs left", n)
	}
	resp, _, _ := c.Do("GET", "/metrics", nil, nil)
	_, metrics, _ := c.Do("GET", "/metrics", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(metrics), `berth_gc_deleted_total{kind="blob"} 2`) ||
		!strings.Contains(string(metrics), `berth_gc_runs_total{result="dry_run"} 1`) {
		t.Fatalf("metrics:\n%s", metrics)
	}
}

// Deleting a repository through the management API removes its tags,
// manifests, links and sessions; its blobs then go with GC, except those
// another repository links.
func TestDeleteRepository(t *testing.T) {
	backends(t, func(c *config.Config) { c.GC.GracePeriod = 0 }, func(t *testing.T, s *apptest.Server) {
		c := newClient(s)
		shared := []byte("base")
		gone := gctest.NewImage("proj/app", "v1", shared, []byte("app"))
		other := gctest.NewImage("proj/other", "v1", shared, []byte("other"))
		top := gctest.NewImage("toplevel", "v1", []byte("top"))
		for _, img := range []*gctest.Image{gone, other, top} {
			if err := c.Push(img, ""); err != nil {
				t.Fatal(err)
			}
		}
		if code, _ := mustDo(t, c, "POST", "/v2/proj/app/blobs/uploads/", ""); code != http.StatusAccepted {
			t.Fatal("start upload")
		}
		for _, tc := range []struct {
			path string
			code int
		}{
			{"/api/v1/projects/proj/repositories/app", http.StatusNoContent},
			{"/api/v1/projects/proj/repositories/app", http.StatusNotFound},
			{"/api/v1/projects/proj/repositories/Bad..Name", http.StatusBadRequest},
			{"/api/v1/repositories/toplevel", http.StatusNoContent},
		} {
			if code, body := mustDo(t, c, "DELETE", tc.path, ""); code != tc.code {
				t.Fatalf("DELETE %s: %d %s, want %d", tc.path, code, body, tc.code)
			}
		}
		if code, _ := mustDo(t, c, "GET", "/v2/proj/app/tags/list", ""); code != http.StatusNotFound {
			t.Fatalf("tags of a deleted repository: %d", code)
		}
		if _, body := mustDo(t, c, "GET", "/v2/_catalog", ""); body != `{"repositories":["proj/other"]}` {
			t.Fatalf("catalog = %s", body)
		}
		rep, err := s.App.GC().Run(ctx, false, "", nil)
		if err != nil || rep.Blobs != 4 { // gone's config and layer, top's config and layer
			t.Fatalf("gc after repository delete = %+v, %v", rep, err)
		}
		if err := c.Pull(other); err != nil {
			t.Fatal(err)
		}
		if entries, _ := os.ReadDir(filepath.Join(s.Config.Storage.Filesystem.Root, "uploads")); len(entries) != 0 {
			t.Fatalf("upload files left: %v", entries)
		}
	})
}

// With deletion off, every delete is 405 UNSUPPORTED; tags and manifests
// delete as the spec says when it is on.
func TestDeletion(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.Registry.DeleteEnabled = false })
	c := newClient(s)
	img := gctest.NewImage("r", "t", []byte("l"))
	c.Push(img, "")
	for _, path := range []string{"/v2/r/manifests/t", "/v2/r/manifests/" + img.Digest.String(),
		"/v2/r/blobs/" + digest.FromBytes([]byte("l")).String(), "/api/v1/repositories/r"} {
		if code, body := mustDo(t, c, "DELETE", path, ""); code != http.StatusMethodNotAllowed || !strings.Contains(body, "UNSUPPORTED") {
			t.Errorf("DELETE %s with deletion off: %d %s", path, code, body)
		}
	}

	s = apptest.Start(t, nil)
	c = newClient(s)
	img.Tag = "a"
	c.Push(img, "")
	img.Tag = "b"
	c.Push(img, "")
	if err := c.DeleteTag("r", "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pull(img); err != nil { // b still names the manifest
		t.Fatal(err)
	}
	if code, _ := mustDo(t, c, "DELETE", "/v2/r/manifests/"+img.Digest.String(), ""); code != http.StatusAccepted {
		t.Fatalf("delete by digest: %d", code)
	}
	if code, _ := mustDo(t, c, "GET", "/v2/r/manifests/b", ""); code != http.StatusNotFound {
		t.Fatalf("tag of a deleted manifest: %d", code)
	}
}
