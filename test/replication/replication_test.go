package replication_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/app/apptest"
	"github.com/berth-registry/berth/internal/replication"
	"github.com/berth-registry/berth/internal/testproc"
)

// source is a Berth holding what the tests replicate: a multi-arch index
// signed with cosign (team/app:v1), an image with an oras referrer
// (team/app:v2), and a repository the rules leave out (other/x:v1).
type source struct {
	*apptest.Server
	index, image  string // digests of v1 and v2
	children      []string
	sigTag, sig   string // cosign's tag of the index and its digest
	referrer      string // the oras referrer of v2
	dir           string
	env           []string
	cosignKeyPath string
}

func newSource(t *testing.T) *source {
	t.Helper()
	testproc.Need(t, "cosign")
	testproc.Need(t, "oras")
	testproc.Need(t, "crane")
	s := &source{Server: startBerth(t), dir: t.TempDir()}
	s.env = []string{"COSIGN_PASSWORD=replication-test", "DOCKER_CONFIG=" + filepath.Join(s.dir, "docker")}
	h := host(s.Server)

	idx, err := random.Index(2048, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(h+"/team/app:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	s.index = d.String()
	im, _ := idx.IndexManifest()
	for _, m := range im.Manifests {
		s.children = append(s.children, m.Digest.String())
	}

	out := run(t, s.dir, s.env, "crane", "append", "--insecure", "--oci-empty-base", "-t", h+"/team/app:v2", "-f", tarFile(t, s.dir, "layer.tar", 64<<10))
	_, s.image, _ = strings.Cut(strings.TrimSpace(out), "@")
	run(t, s.dir, s.env, "crane", "append", "--insecure", "--oci-empty-base", "-t", h+"/other/x:v1", "-f", tarFile(t, s.dir, "x.tar", 1024))

	// A real cosign signature of the index (the tag scheme: sha256-<hex>.sig).
	run(t, s.dir, s.env, "cosign", "generate-key-pair")
	run(t, s.dir, s.env, "cosign", "sign", "--key", "cosign.key", "--tlog-upload=false", "--yes",
		"--allow-http-registry", "--allow-insecure-registry", h+"/team/app@"+s.index)
	s.sigTag = "sha256-" + strings.TrimPrefix(s.index, "sha256:") + ".sig"
	s.sig = strings.TrimSpace(run(t, s.dir, s.env, "crane", "digest", "--insecure", h+"/team/app:"+s.sigTag))

	// An oras referrer of the image (through Berth's referrers API).
	if err := os.WriteFile(filepath.Join(s.dir, "sbom.json"), []byte(`{"packages":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, s.dir, s.env, "oras", "attach", "--plain-http", "--artifact-type", "application/vnd.example.sbom+json",
		h+"/team/app@"+s.image, "sbom.json:application/json")
	var refs struct {
		Manifests []struct{ Digest string }
	}
	getJSON(t, s.URL+"/v2/team/app/referrers/"+s.image, &refs)
	if len(refs.Manifests) != 1 {
		t.Fatalf("referrers of v2 at the source: %+v", refs)
	}
	s.referrer = refs.Manifests[0].Digest
	return s
}

func tarFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	img, err := random.Image(int64(size), 1)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return p
}

func getJSON(t testing.TB, url string, out any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// craneAt runs crane against a registry with credentials.
func craneAt(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(run(t, dir, env, "crane", append(args, "--insecure")...))
}

// registerDistribution registers d in s under the name "dist".
func registerDistribution(t *testing.T, s *apptest.Server, d *distribution) {
	t.Helper()
	var reg replication.Registry
	mustAPI(t, s, http.StatusCreated, "POST", "/api/v1/replication/registries", replication.Registry{
		Name: "dist", Type: replication.TypeDistribution, URL: "http://" + d.addr, Username: d.user, Password: d.pass}, &reg)
	if reg.Password != "********" {
		t.Fatalf("the API showed the password: %+v", reg)
	}
	var h replication.Health
	mustAPI(t, s, http.StatusOK, "POST", "/api/v1/replication/registries/dist/health", nil, &h)
	if !h.Healthy {
		t.Fatalf("health: %+v", h)
	}
}

// TestPushToDistribution replicates a multi-arch index with its cosign
// signature and an image with an oras referrer to Distribution 2.8 (no
// referrers API: the tag scheme), renamed under mirror/; crane, oras and
// skopeo then find the same digests there. A second run finds everything
// up to date; events replicate a new tag and a deletion.
func TestPushToDistribution(t *testing.T) {
	testproc.Need(t, "skopeo")
	src := newSource(t)
	dist := startDistribution(t)
	registerDistribution(t, src.Server, dist)
	rule := replication.Rule{Name: "to-dist", Enabled: true, Direction: replication.Push, Registry: "dist",
		Repositories: "team/**", Destination: replication.Rewrite{Namespace: "mirror"}, Deletions: true, Events: true}
	mustAPI(t, src.Server, http.StatusCreated, "POST", "/api/v1/replication/rules", rule, &rule)

	run1 := startRun(t, src.Server, "to-dist")
	if run1.Status != "succeeded" || run1.Succeeded != 2 || run1.Failed != 0 || run1.Bytes == 0 {
		t.Fatalf("first run: %+v, failed tasks %+v", run1, failedTasks(t, src.Server, run1.ID))
	}

	dir := t.TempDir()
	env := []string{"DOCKER_CONFIG=" + filepath.Join(dir, "docker")}
	run(t, dir, env, "crane", "auth", "login", dist.addr, "-u", dist.user, "-p", dist.pass)
	at := dist.addr + "/mirror/team/app"
	if got := craneAt(t, dir, env, "digest", at+":v1"); got != src.index {
		t.Errorf("index digest at the destination %s, want %s", got, src.index)
	}
	for _, c := range src.children {
		craneAt(t, dir, env, "manifest", at+"@"+c)
	}
	if got := craneAt(t, dir, env, "digest", at+":v2"); got != src.image {
		t.Errorf("image digest at the destination %s, want %s", got, src.image)
	}
	if got := craneAt(t, dir, env, "digest", at+":"+src.sigTag); got != src.sig {
		t.Errorf("cosign signature at the destination %s, want %s", got, src.sig)
	}
	// The signature verifies at the destination with the source's key.
	run(t, src.dir, append(src.env, env...), "cosign", "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true",
		"--allow-http-registry", "--allow-insecure-registry", at+"@"+src.index)
	// oras finds the referrer through the tag scheme Berth maintained.
	out := run(t, dir, env, "oras", "discover", "--plain-http", "-u", dist.user, "-p", dist.pass, "--format", "json", at+"@"+src.image)
	if !strings.Contains(out, src.referrer) {
		t.Errorf("oras discover at the destination does not list %s:\n%s", src.referrer, out)
	}
	raw := run(t, dir, nil, "skopeo", "inspect", "--raw", "--tls-verify=false", "--creds", dist.user+":"+dist.pass, "docker://"+at+":v1")
	if got := "sha256:" + sha256Hex([]byte(raw)); got != src.index {
		t.Errorf("skopeo read an index with digest %s, want %s", got, src.index)
	}
	run(t, dir, nil, "skopeo", "copy", "--src-tls-verify=false", "--src-creds", dist.user+":"+dist.pass,
		"docker://"+at+":v2", "oci:"+filepath.Join(dir, "layout")+":v2")
	catalog := craneAt(t, dir, env, "catalog", dist.addr)
	if strings.Contains(catalog, "other/x") || !strings.Contains(catalog, "mirror/team/app") {
		t.Errorf("catalog at the destination:\n%s", catalog)
	}

	// Everything is there: the second run copies nothing.
	run2 := startRun(t, src.Server, "to-dist")
	if run2.Status != "succeeded" || run2.Skipped != 2 || run2.Succeeded != 0 || run2.Bytes != 0 {
		t.Fatalf("second run: %+v", run2)
	}

	svc := src.App.Replication()
	ctx := context.Background()
	t.Run("event push", func(t *testing.T) {
		out := run(t, src.dir, src.env, "crane", "append", "--insecure", "--oci-empty-base", "-t", host(src.Server)+"/team/app:v3",
			"-f", tarFile(t, t.TempDir(), "l.tar", 4096))
		_, d, _ := strings.Cut(strings.TrimSpace(out), "@")
		// The push's event reaches replication through the outbox.
		r := waitRun(t, src.Server, nextRun(t, src.Server, "to-dist", run2.ID), 30*time.Second)
		if r.Status != "succeeded" || r.Trigger != "event" || r.Succeeded != 1 {
			t.Fatalf("event run: %+v", r)
		}
		if got := craneAt(t, dir, env, "digest", at+":v3"); got != d {
			t.Fatalf("v3 at the destination: %s, want %s", got, d)
		}
		// Replication's own writes are ignored: no ping-pong.
		before := newestRun(t, src.Server, "to-dist").ID
		svc.HandleEvent(ctx, replication.Event{Type: replication.ManifestPushed, Repository: "team/app", Tags: []string{"v3"}, Origin: replication.Origin("other")})
		if after := newestRun(t, src.Server, "to-dist").ID; after != before {
			t.Fatalf("a replicated write started run %d", after)
		}
	})
	t.Run("event deletion", func(t *testing.T) {
		before := newestRun(t, src.Server, "to-dist").ID
		req, _ := http.NewRequest(http.MethodDelete, src.URL+"/v2/team/app/manifests/v2", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("delete v2 at the source: %v %v", resp, err)
		}
		resp.Body.Close()
		r := waitRun(t, src.Server, nextRun(t, src.Server, "to-dist", before), 30*time.Second)
		if r.Status != "succeeded" || r.Succeeded != 1 {
			t.Fatalf("deletion run: %+v, failed %+v", r, failedTasks(t, src.Server, r.ID))
		}
		// Distribution 2.8 cannot delete a tag alone: the manifest went.
		res := run2Status(t, dir, env, "crane", "digest", "--insecure", at+":v2")
		if res == nil {
			t.Fatal("v2 is still at the destination")
		}
		if got := craneAt(t, dir, env, "digest", at+":v1"); got != src.index {
			t.Fatalf("v1 after the deletion of v2: %s", got)
		}
	})
}

// nextRun waits for a run of rule newer than run after (started by an
// event) and returns its id.
func nextRun(t testing.TB, s *apptest.Server, rule string, after int64) int64 {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r := newestRun(t, s, rule); r.ID > after {
			return r.ID
		}
	}
	t.Fatalf("no run of %s after run %d", rule, after)
	return 0
}

// run2Status runs a command expected to fail and returns its error.
func run2Status(t *testing.T, dir string, env []string, name string, args ...string) error {
	t.Helper()
	cmd := execCommand(dir, env, name, args...)
	return cmd.Run()
}

func newestRun(t testing.TB, s *apptest.Server, rule string) replication.Run {
	t.Helper()
	var out struct{ Runs []replication.Run }
	mustAPI(t, s, http.StatusOK, "GET", "/api/v1/replication/runs?rule="+rule+"&limit=1", nil, &out)
	if len(out.Runs) == 0 {
		t.Fatalf("rule %s has no runs", rule)
	}
	return out.Runs[0]
}

// TestPullFromDistribution pulls the tags a semver range selects from
// Distribution into Berth, renamed (prefix replaced).
func TestPullFromDistribution(t *testing.T) {
	testproc.Need(t, "crane")
	dst := startBerth(t)
	dist := startDistribution(t)
	dir := t.TempDir()
	env := []string{"DOCKER_CONFIG=" + filepath.Join(dir, "docker")}
	run(t, dir, env, "crane", "auth", "login", dist.addr, "-u", dist.user, "-p", dist.pass)
	digests := map[string]string{}
	for i, tag := range []string{"1.0.0", "2.0.0", "2.1.0"} {
		out := craneAt(t, dir, env, "append", "--oci-empty-base", "-t", dist.addr+"/upstream/tool:"+tag,
			"-f", tarFile(t, dir, fmt.Sprintf("l%d.tar", i), 8192))
		_, digests[tag], _ = strings.Cut(out, "@")
	}
	registerDistribution(t, dst, dist)
	rule := replication.Rule{Name: "from-dist", Enabled: true, Direction: replication.Pull, Registry: "dist",
		Repositories: "upstream/tool", Semver: ">=2", Destination: replication.Rewrite{StripPrefix: "upstream/", Namespace: "pulled"}}
	mustAPI(t, dst, http.StatusCreated, "POST", "/api/v1/replication/rules", rule, &rule)
	r := startRun(t, dst, "from-dist")
	if r.Status != "succeeded" || r.Succeeded != 2 {
		t.Fatalf("pull run: %+v, failed %+v", r, failedTasks(t, dst, r.ID))
	}
	for tag, want := range map[string]string{"2.0.0": digests["2.0.0"], "2.1.0": digests["2.1.0"]} {
		if got := craneAt(t, dir, env, "digest", host(dst)+"/pulled/tool:"+tag); got != want {
			t.Errorf("pulled/tool:%s = %s, want %s", tag, got, want)
		}
	}
	var tags struct{ Tags []string }
	getJSON(t, dst.URL+"/v2/pulled/tool/tags/list", &tags)
	if slices.Contains(tags.Tags, "1.0.0") {
		t.Errorf("1.0.0 was pulled: %v", tags.Tags)
	}
}

// TestDestinationDown: the destination is down when the run starts; its
// tasks fail and are retried with back-off; once it is up the run
// completes.
func TestDestinationDown(t *testing.T) {
	src := startBerth(t)
	testproc.Need(t, "crane")
	dir := t.TempDir()
	for i := range 3 {
		run(t, dir, nil, "crane", "append", "--insecure", "--oci-empty-base", "-t", fmt.Sprintf("%s/app/n%d:v1", host(src), i),
			"-f", tarFile(t, dir, fmt.Sprintf("l%d.tar", i), 4096))
	}
	dist := startDistribution(t)
	registerDistribution(t, src, dist)
	rule := replication.Rule{Name: "flaky", Enabled: true, Direction: replication.Push, Registry: "dist", Repositories: "app/*"}
	mustAPI(t, src, http.StatusCreated, "POST", "/api/v1/replication/rules", rule, &rule)
	dist.stop()
	var r replication.Run
	mustAPI(t, src, http.StatusAccepted, "POST", "/api/v1/replication/rules/flaky/runs", nil, &r)
	// Wait until every task has failed at least twice.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var out struct{ Tasks []replication.Task }
		mustAPI(t, src, http.StatusOK, "GET", fmt.Sprintf("/api/v1/replication/runs/%d/tasks", r.ID), nil, &out)
		retried := 0
		for _, k := range out.Tasks {
			if k.Attempt >= 2 && k.Status == "pending" && k.Error != "" {
				retried++
			}
		}
		if len(out.Tasks) == 3 && retried == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks were not retried: %+v", out.Tasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dist.start()
	r = waitRun(t, src, r.ID, time.Minute)
	if r.Status != "succeeded" || r.Succeeded != 3 {
		t.Fatalf("run after the destination came back: %+v", r)
	}
}

// TestBerthToBerth: to a second Berth (OCI 1.1: the referrers API), the
// referrer arrives as a referrer, with its digest; stopping a run skips
// what it had not done.
func TestBerthToBerth(t *testing.T) {
	src := newSource(t)
	dst := startBerth(t)
	mustAPI(t, src.Server, http.StatusCreated, "POST", "/api/v1/replication/registries",
		replication.Registry{Name: "site-b", Type: replication.TypeBerth, URL: dst.URL}, nil)
	rule := replication.Rule{Name: "to-b", Enabled: true, Direction: replication.Push, Registry: "site-b", Repositories: "team/**"}
	mustAPI(t, src.Server, http.StatusCreated, "POST", "/api/v1/replication/rules", rule, &rule)
	r := startRun(t, src.Server, "to-b")
	if r.Status != "succeeded" || r.Succeeded != 2 {
		t.Fatalf("run: %+v, failed %+v", r, failedTasks(t, src.Server, r.ID))
	}
	var refs struct {
		Manifests []struct{ Digest, ArtifactType string }
	}
	getJSON(t, dst.URL+"/v2/team/app/referrers/"+src.image, &refs)
	if len(refs.Manifests) != 1 || refs.Manifests[0].Digest != src.referrer || refs.Manifests[0].ArtifactType != "application/vnd.example.sbom+json" {
		t.Fatalf("referrers at the destination: %+v, want %s", refs, src.referrer)
	}
	var tags struct{ Tags []string }
	getJSON(t, dst.URL+"/v2/team/app/tags/list", &tags)
	if !slices.Contains(tags.Tags, src.sigTag) || slices.ContainsFunc(tags.Tags, func(t string) bool { return strings.HasPrefix(t, "sha256-") && !strings.HasSuffix(t, ".sig") }) {
		t.Fatalf("tags at the destination: %v", tags.Tags)
	}

	// Stopping a run that has ended is a conflict; an unknown run is 404.
	if got := api(t, src.Server, "POST", fmt.Sprintf("/api/v1/replication/runs/%d/stop", r.ID), nil, nil); got != http.StatusConflict {
		t.Fatalf("stop an ended run: %d", got)
	}
	if got := api(t, src.Server, "POST", "/api/v1/replication/runs/999999/stop", nil, nil); got != http.StatusNotFound {
		t.Fatalf("stop an unknown run: %d", got)
	}
}
