package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	_ "modernc.org/sqlite" // reads the server's database, for the checks no API exposes

	"github.com/berth-registry/berth/internal/testproc"
)

// Project policies (docs/policies.md) with real clients: a push over the
// project's storage quota is refused up front with DENIED naming the
// quota, the client shows it, and nothing of the refused upload remains;
// usage is exact after pushes, shared layers and deletes; an immutable tag
// refuses a client's overwrite.

func needBerth(t *testing.T) {
	t.Helper()
	if target != "berth" {
		t.Skipf("project policies are Berth's own (target %s)", target)
	}
}

// api calls the management API and decodes the JSON answer into out (when
// not nil), failing unless the status is want.
func (r *registry) api(t *testing.T, method, path, body string, want int, out any) {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	res := r.do(t, method, "/api/v1"+path, http.Header{"Content-Type": {"application/json"}}, b)
	if res.Status != want {
		t.Fatalf("%s /api/v1%s: want %d, got\n%s", method, path, want, res)
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			t.Fatalf("%s /api/v1%s: %v\n%s", method, path, err, res.Body)
		}
	}
}

type usage struct {
	StorageBytes int64 `json:"storage_bytes"`
	Blobs        int64 `json:"blobs"`
	Manifests    int64 `json:"manifests"`
	Repositories int64 `json:"repositories"`
}

func (r *registry) usage(t *testing.T, project string) usage {
	t.Helper()
	var rep struct {
		Usage usage `json:"usage"`
	}
	r.api(t, "GET", "/projects/"+project+"/usage", "", http.StatusOK, &rep)
	return rep.Usage
}

// uploadSessions lists the server's upload sessions (from its database)
// and upload files.
func (r *registry) uploadSessions(t *testing.T) (sessions, files []string) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(r.DataDir, "blobs", "uploads"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		files = append(files, e.Name())
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(r.DataDir, "berth.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM uploads`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		rows.Scan(&id)
		sessions = append(sessions, id)
	}
	return sessions, files
}

var uploadURL = regexp.MustCompile(`blobs/uploads/([0-9a-f-]{36})`)

// nothingPartial checks that the refused upload (named in the client's
// error, when it names it) left neither a session nor bytes, and that no
// more sessions exist than before the push, but those the client itself
// abandoned when the refusal stopped it (abandoned uploads are purged by
// GC after their age limit).
func (r *registry) nothingPartial(t *testing.T, clientErr string, abandoned int) {
	t.Helper()
	sessions, files := r.uploadSessions(t)
	if m := uploadURL.FindStringSubmatch(clientErr); m != nil {
		if slices.Contains(sessions, m[1]) || slices.Contains(files, m[1]) {
			t.Errorf("the refused upload %s left a session or bytes behind", m[1])
		}
	}
	if len(sessions) > abandoned || len(files) > abandoned {
		t.Errorf("sessions %v and files %v left behind, want at most %d abandoned by the client", sessions, files, abandoned)
	}
}

// imageBytes is what an image holds: its manifest, config and layers.
func (r *registry) imageBytes(t *testing.T, repo, ref string) int64 {
	t.Helper()
	_, res := r.mustManifest(t, repo, ref)
	n := int64(len(res.Body))
	var doc struct {
		Config struct{ Size int64 }
		Layers []struct{ Size int64 }
	}
	json.Unmarshal(res.Body, &doc)
	n += doc.Config.Size
	for _, l := range doc.Layers {
		n += l.Size
	}
	return n
}

func TestQuotaWithClients(t *testing.T) {
	needBerth(t)
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	reg.api(t, "PUT", "/projects/quota/quota", `{"storage_bytes":"1MiB"}`, http.StatusOK, nil)

	// crane: a 2 MiB layer does not fit.
	r := c.exec(runOpts{}, "crane", "append", "--oci-empty-base", "-t", c.ref("quota/app", "big"),
		"-f", writeRandomTarFile(t, t.TempDir(), 2<<20), "--insecure")
	if r.Err == nil {
		t.Fatal("crane pushed an image over the quota")
	}
	t.Logf("crane said: %s", r.Stderr)
	for _, want := range []string{"DENIED", "project quota storage quota exceeded", "used of 1.0 MiB (1048576 bytes)"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("crane's error does not show %q:\n%s", want, r.Stderr)
		}
	}
	// crane uploads the config beside the layer; stopped by the refusal,
	// it may abandon that session.
	reg.nothingPartial(t, r.Stderr, 1)
	abandoned, _ := reg.uploadSessions(t)

	// skopeo sends its layer in a PATCH: refused at the quota, with the
	// same message. Straight to the server, as below: the refusal comes
	// while skopeo still sends, and the test's recording proxy (a Go
	// ReverseProxy) sometimes turns that into a connection reset.
	testproc.Need(t, "skopeo")
	layout := filepath.Join(t.TempDir(), "layout")
	writeImage(t, layout, "v1", platform{OS: "linux", Architecture: "amd64"}, randomTar(t, 3<<20))
	r = c.exec(runOpts{}, "skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
		"oci:"+layout+":v1", "docker://"+reg.Direct+"/quota/skopeo:v1")
	if r.Err == nil {
		t.Fatal("skopeo pushed an image over the quota")
	}
	t.Logf("skopeo said: %s", r.Stderr)
	for _, want := range []string{"denied", "project quota storage quota exceeded"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("skopeo's error does not show %q:\n%s", want, r.Stderr)
		}
	}
	reg.nothingPartial(t, r.Stderr, len(abandoned))
	// Recompressed on the way (zstd), the layer's size is not known in
	// advance: skopeo streams it, and the server stops it at the quota.
	// Straight to the server: the test's recording proxy (a Go
	// ReverseProxy) turns an answer that comes while the client still
	// streams into a connection reset.
	r = c.exec(runOpts{}, "skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
		"--dest-compress-format", "zstd", "oci:"+layout+":v1", "docker://"+reg.Direct+"/quota/skopeo:zstd")
	if r.Err == nil {
		t.Fatal("skopeo pushed a streamed layer over the quota")
	}
	t.Logf("skopeo (streaming) said: %s", r.Stderr)
	if !strings.Contains(r.Stderr, "project quota storage quota exceeded") {
		t.Errorf("skopeo's error does not show the quota:\n%s", r.Stderr)
	}
	reg.nothingPartial(t, r.Stderr, len(abandoned))

	// What fits is pushed, and counted exactly.
	before := reg.usage(t, "quota")
	pushCraneImage(t, c, c.ref("quota/app", "small"), 100<<10, 50<<10)
	img := reg.imageBytes(t, "quota/app", "small")
	u := reg.usage(t, "quota")
	// The empty base's config may have been pushed by the refused runs.
	if u.StorageBytes-before.StorageBytes > img || u.StorageBytes < img || u.Manifests != 1 {
		t.Fatalf("usage %+v after pushing an image of %d bytes (before: %+v)", u, img, before)
	}
	// The same image in another repository of the project: counted once.
	c.crane("copy", c.ref("quota/app", "small"), c.ref("quota/copy", "small"))
	if u2 := reg.usage(t, "quota"); u2.StorageBytes != u.StorageBytes || u2.Manifests != 2 || u2.Repositories != u.Repositories+1 {
		t.Fatalf("usage %+v after copying within the project, want %d bytes as before", u2, u.StorageBytes)
	}

	// Deletes: the manifests, then the blobs' links (what GC removes once
	// nothing uses them) free their bytes at once.
	m, res := reg.mustManifest(t, "quota/app", "small")
	digest := sha256Digest(res.Body)
	c.crane("delete", c.ref("quota/app", digest))
	c.crane("delete", c.ref("quota/copy", digest))
	u3 := reg.usage(t, "quota")
	if u3.StorageBytes != u.StorageBytes-int64(len(res.Body)) || u3.Manifests != 0 {
		t.Fatalf("usage %+v after deleting the manifests, want %d bytes", u3, u.StorageBytes-int64(len(res.Body)))
	}
	for _, repo := range []string{"quota/app", "quota/copy"} {
		for _, d := range append(m.layerDigests(), m.Config.Digest) {
			if res := reg.do(t, http.MethodDelete, "/v2/"+repo+"/blobs/"+d, nil, nil); res.Status != http.StatusAccepted {
				t.Fatalf("DELETE blob %s of %s:\n%s", d, repo, res)
			}
		}
	}
	// What is left is what was there before the image: what the refused
	// pushes had stored before the refusal (crane's config blob).
	if u4 := reg.usage(t, "quota"); u4.StorageBytes != before.StorageBytes || u4.Manifests != 0 {
		t.Fatalf("usage %+v after deleting everything the image brought, want %d bytes", u4, before.StorageBytes)
	}
}

func TestImmutableTagWithClients(t *testing.T) {
	needBerth(t)
	testproc.Need(t, "crane")
	reg := startRegistry(t)
	c := newClients(t, reg)
	var rule struct{ ID int64 }
	reg.api(t, "POST", "/projects/imm/immutable-rules", `{"repositories":"**","tags":"release-*"}`, http.StatusCreated, &rule)

	first := pushCraneImage(t, c, c.ref("imm/app", "release-1"), 10<<10)
	// Pushing the same image again is fine.
	c.crane("copy", c.ref("imm/app", first), c.ref("imm/app", "release-1"))
	// Another image under the same tag is refused, naming the rule.
	r := c.exec(runOpts{}, "crane", "append", "--oci-empty-base", "-t", c.ref("imm/app", "release-1"),
		"-f", writeRandomTarFile(t, t.TempDir(), 10<<10), "--insecure")
	if r.Err == nil {
		t.Fatal("crane overwrote an immutable tag")
	}
	for _, want := range []string{"DENIED", "release-1", fmt.Sprintf("immutability rule %d", rule.ID), "cannot be overwritten"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("crane's error does not show %q:\n%s", want, r.Stderr)
		}
	}
	r = c.exec(runOpts{}, "crane", "delete", c.ref("imm/app", first), "--insecure")
	if r.Err == nil || !strings.Contains(r.Stderr, "cannot be deleted") {
		t.Errorf("crane delete of the immutable tag's manifest: %v\n%s", r.Err, r.Stderr)
	}
	if _, res := reg.mustManifest(t, "imm/app", "release-1"); sha256Digest(res.Body) != first {
		t.Fatalf("release-1 moved to %s", sha256Digest(res.Body))
	}
	// Tags the rule does not match move freely.
	pushCraneImage(t, c, c.ref("imm/app", "latest"), 10<<10)
	pushCraneImage(t, c, c.ref("imm/app", "latest"), 10<<10)
}
