package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/gc/gctest"
)

// call sends a request with an optional JSON body and returns the status
// and the body.
func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func expect(t *testing.T, what string, status int, body string, wantStatus int, wantBody ...string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: %d %s, want %d", what, status, body, wantStatus)
	}
	for _, w := range wantBody {
		if !strings.Contains(body, w) {
			t.Errorf("%s: body %s lacks %s", what, body, w)
		}
	}
}

// pushBlob pushes content monolithically and returns the response.
func pushBlob(t *testing.T, base, repo string, content []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(base+"/v2/"+repo+"/blobs/uploads/?digest="+digest.FromBytes(content).String(),
		"application/octet-stream", bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPolicyAPI drives the management API of the project policies end to
// end: immutability rules, quota and usage, retention, and the metrics.
func TestPolicyAPI(t *testing.T) {
	s := apptest.Start(t, nil)
	api := s.URL + "/api/v1/projects/team"

	// Immutability rules.
	st, body := call(t, "POST", api+"/immutable-rules", `{"tags":"v*"}`)
	expect(t, "add rule", st, body, http.StatusCreated, `"id":1`, `"repositories":"**"`, `"tags":"v*"`)
	st, body = call(t, "PUT", api+"/immutable-rules/1", `{"repositories":"app/**","tags":"v*,release-*"}`)
	expect(t, "update rule", st, body, http.StatusOK, `"repositories":"app/**"`, `"tags":"v*,release-*"`)
	st, body = call(t, "GET", api+"/immutable-rules", "")
	expect(t, "list rules", st, body, http.StatusOK, `"rules":[{"id":1`)
	st, body = call(t, "POST", api+"/immutable-rules", `{"tags":"["}`)
	expect(t, "bad pattern", st, body, http.StatusBadRequest, "not a valid glob")
	st, body = call(t, "POST", api+"/immutable-rules", `{"tags":"v*","color":"red"}`)
	expect(t, "unknown field", st, body, http.StatusBadRequest, "unknown field")
	st, body = call(t, "DELETE", api+"/immutable-rules/9", "")
	expect(t, "delete unknown rule", st, body, http.StatusNotFound, "immutability rule 9")
	st, body = call(t, "GET", s.URL+"/api/v1/projects/Bad_Name/immutable-rules", "")
	expect(t, "bad project", st, body, http.StatusBadRequest, "not a project name")

	// An immutable tag refuses to move, with DENIED naming the rule.
	cfg := []byte(`{"architecture":"amd64"}`)
	if st, body := pushBlob(t, s.URL, "team/app", cfg); st != http.StatusCreated {
		t.Fatalf("push config: %d %s", st, body)
	}
	manifest := func(n int) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[],"annotations":{"n":"%d"}}`,
			digest.FromBytes(cfg), len(cfg), n)
	}
	putManifest := func(ref, body string) (int, string) {
		req, _ := http.NewRequest("PUT", s.URL+"/v2/team/app/manifests/"+ref, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, body = putManifest("v1", manifest(1))
	expect(t, "push v1", st, body, http.StatusCreated)
	st, body = putManifest("v1", manifest(2))
	expect(t, "overwrite v1", st, body, http.StatusForbidden, `"code":"DENIED"`, "immutability rule 1", "cannot be overwritten")
	st, body = call(t, "DELETE", s.URL+"/v2/team/app/manifests/v1", "")
	expect(t, "delete v1", st, body, http.StatusForbidden, `"code":"DENIED"`, "cannot be deleted")
	st, body = putManifest("latest", manifest(3))
	expect(t, "push latest", st, body, http.StatusCreated)
	st, body = putManifest("dev", manifest(4))
	expect(t, "push dev", st, body, http.StatusCreated)

	// Quota and usage.
	st, body = call(t, "GET", api+"/quota", "")
	expect(t, "no quota", st, body, http.StatusNotFound)
	st, body = call(t, "PUT", api+"/quota", `{"storage_bytes":"1KiB","repositories":5}`)
	expect(t, "set quota", st, body, http.StatusOK, `"storage_bytes":1024`, `"repositories":5`, `"manifests":-1`, `"usage":{"storage_bytes":`)
	var q struct {
		Usage struct {
			StorageBytes int64 `json:"storage_bytes"`
			Manifests    int64 `json:"manifests"`
			Tags         int64 `json:"tags"`
		} `json:"usage"`
	}
	json.Unmarshal([]byte(body), &q)
	used := q.Usage.StorageBytes
	if want := int64(len(cfg) + len(manifest(1)) + len(manifest(3)) + len(manifest(4))); used != want || q.Usage.Manifests != 3 || q.Usage.Tags != 3 {
		t.Fatalf("usage %+v, want %d bytes, 3 manifests, 3 tags", q.Usage, want)
	}
	st, body = call(t, "PUT", api+"/quota", `{"storage_bytes":-2}`)
	expect(t, "bad quota", st, body, http.StatusBadRequest, "use -1 for no limit")

	big := bytes.Repeat([]byte("z"), 1024)
	st, body = pushBlob(t, s.URL, "team/app", big)
	expect(t, "push over quota", st, body, http.StatusForbidden, `"code":"DENIED"`,
		fmt.Sprintf("project team storage quota exceeded: %d bytes used of 1.0 KiB (1024 bytes), this push adds 1.0 KiB (1024 bytes)", used))

	st, body = call(t, "GET", api+"/usage?n=1", "")
	expect(t, "usage", st, body, http.StatusOK, `"project":"team"`, `"quota":{"project":"team","storage_bytes":1024`,
		`"repositories":[{"name":"team/app","usage":{`, fmt.Sprintf(`"storage_bytes":%d`, used))
	if strings.Contains(body, `"next"`) {
		t.Errorf("usage page with one repository has a next: %s", body)
	}

	st, body = call(t, "GET", s.URL+"/metrics", "")
	expect(t, "metrics", st, body, http.StatusOK,
		fmt.Sprintf(`berth_project_storage_bytes{project="team"} %d`, used),
		`berth_project_quota_bytes{project="team"} 1024`)

	// Retention: keep the latest pushed tag; v1 is immutable, dev goes.
	st, body = call(t, "GET", api+"/retention", "")
	expect(t, "no retention policy", st, body, http.StatusNotFound)
	st, body = call(t, "PUT", api+"/retention", `{"rules":[{"keep":"latest_pushed","count":1}],"schedule":"daily"}`)
	expect(t, "bad schedule", st, body, http.StatusBadRequest, "schedule")
	// A preview of rules not saved yet: what they would delete, recorded nowhere.
	st, body = call(t, "POST", api+"/retention/preview", `{"rules":[{"keep":"latest_pushed","count":1,"tags":"!dev"}]}`)
	expect(t, "preview", st, body, http.StatusOK, `"dry_run":true`, `"tags_deleted":1`, `"tag":"dev"`, `"tags_kept":2`)
	st, body = call(t, "POST", api+"/retention/preview", `{"rules":[{"keep":"latest_pushed"}]}`)
	expect(t, "invalid preview", st, body, http.StatusBadRequest, "count")
	st, body = call(t, "GET", api+"/retention", "")
	expect(t, "preview saved nothing", st, body, http.StatusNotFound)
	st, body = call(t, "PUT", api+"/retention", `{"rules":[{"keep":"latest_pushed","count":1,"tags":"!dev"}],"schedule":"@daily"}`)
	expect(t, "set retention", st, body, http.StatusOK, `"keep":"latest_pushed"`, `"schedule":"@daily"`)
	st, body = call(t, "GET", api+"/retention", "")
	expect(t, "get retention", st, body, http.StatusOK, `"count":1`, `"tags":"!dev"`)
	st, body = call(t, "POST", api+"/retention/run?dry_run=true", "")
	expect(t, "dry run", st, body, http.StatusOK, `"dry_run":true`, `"tags_deleted":1`, `"tag":"dev"`, `"tags_kept":2`)
	st, body = call(t, "POST", api+"/retention/run", `{"dry_run":false}`)
	expect(t, "run", st, body, http.StatusOK, `"dry_run":false`, `"tags_deleted":1`, `"tag":"dev"`, `"trigger":"api"`)
	if st, _ := call(t, "GET", s.URL+"/v2/team/app/manifests/dev", ""); st != http.StatusNotFound {
		t.Errorf("dev after the run: %d", st)
	}
	st, body = call(t, "GET", api+"/retention/runs", "")
	expect(t, "runs", st, body, http.StatusOK, `"runs":[{"id":2`, `"dry_run":true`)
	st, body = call(t, "DELETE", api+"/retention", "")
	expect(t, "delete retention", st, body, http.StatusNoContent)
	st, body = call(t, "POST", api+"/retention/run", "")
	expect(t, "run without a policy", st, body, http.StatusNotFound)

	st, body = call(t, "DELETE", api+"/quota", "")
	expect(t, "delete quota", st, body, http.StatusNoContent)
	if st, body := pushBlob(t, s.URL, "team/app", big); st != http.StatusCreated {
		t.Fatalf("push without a quota: %d %s", st, body)
	}
}

// TestUsageAfterGC: a project's usage follows garbage collection exactly:
// after a tag delete and a GC run, what only the deleted image held is
// freed, what another repository of the project shares stays counted
// once, and the freed space takes pushes again.
func TestUsageAfterGC(t *testing.T) {
	s := apptest.Start(t, func(c *config.Config) { c.GC.GracePeriod = 0 })
	c := &gctest.Client{Base: s.URL, HTTP: http.DefaultClient}
	shared, own := bytes.Repeat([]byte("s"), 3000), bytes.Repeat([]byte("o"), 5000)
	doomed := gctest.NewImage("team/app", "old", shared, own)
	kept := gctest.NewImage("team/lib", "v1", shared)
	for _, img := range []*gctest.Image{doomed, kept} {
		if err := c.Push(img, ""); err != nil {
			t.Fatal(err)
		}
	}
	usage := func() int64 {
		t.Helper()
		var rep struct {
			Usage struct {
				StorageBytes int64 `json:"storage_bytes"`
			} `json:"usage"`
		}
		st, body := call(t, "GET", s.URL+"/api/v1/projects/team/usage", "")
		if st != http.StatusOK || json.Unmarshal([]byte(body), &rep) != nil {
			t.Fatalf("usage: %d %s", st, body)
		}
		return rep.Usage.StorageBytes
	}
	size := func(img *gctest.Image) (n int64) {
		for _, b := range img.Blobs {
			n += int64(len(b))
		}
		return n + int64(len(img.Manifest))
	}
	all := size(doomed) + size(kept) - int64(len(shared))
	if got := usage(); got != all {
		t.Fatalf("usage %d, want %d (the shared layer once)", got, all)
	}
	// Quota at the current usage: full.
	call(t, "PUT", s.URL+"/api/v1/projects/team/quota", fmt.Sprintf(`{"storage_bytes":%d}`, all))
	if st, body := pushBlob(t, s.URL, "team/app", []byte("one more")); st != http.StatusForbidden {
		t.Fatalf("push into a full project: %d %s", st, body)
	}

	if err := c.DeleteTag("team/app", "old"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.App.GC().Run(context.Background(), false, "", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := usage(), size(kept); got != want {
		t.Fatalf("usage after GC %d, want %d (only team/lib's image)", got, want)
	}
	if err := c.Pull(kept); err != nil {
		t.Fatal(err)
	}
	if st, body := pushBlob(t, s.URL, "team/app", []byte("one more")); st != http.StatusCreated {
		t.Fatalf("push after GC freed space: %d %s", st, body)
	}
}
